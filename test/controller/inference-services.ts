/** InferenceServices and cluster objects the controller tests start from. */
import type { InferenceService, KubeObject } from '../../src/controller/index.js';
import { DEFAULT_STORAGE_IMAGES, NEREID_RUNTIME, type ReconcileOptions } from '../../src/controller/index.js';

export const OPTIONS: ReconcileOptions = {
  runtime: NEREID_RUNTIME,
  image: 'ghcr.io/nereid-project/nereid:0.1.0',
  storageImages: DEFAULT_STORAGE_IMAGES,
  gateway: { name: 'kserve-ingress-gateway', namespace: 'kserve' },
  domain: 'example.com',
  clusterDomain: 'cluster.local',
};

export const NOW = '2026-12-04T06:00:00Z';
export const EARLIER = '2026-12-04T05:00:00Z';

export function isvc(storageUri = 'gs://models/densenet/v1', predictor: Record<string, unknown> = {}, runtime = NEREID_RUNTIME): InferenceService {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'densenet', namespace: 'models', uid: '6f1c2a8e-0000-4000-8000-000000000001', generation: 1, resourceVersion: '100' },
    spec: {
      predictor: {
        ...predictor,
        model: { modelFormat: { name: 'onnx' }, runtime, protocolVersion: 'v2', storageUri },
      },
    },
  };
}

/** A Deployment the way the API server reports one, ready or still starting. */
export function observedDeployment(name: string, ready: boolean): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'models', generation: 2, labels: { 'nereid.dev/revision': name } },
    status: ready
      ? { observedGeneration: 2, replicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] }
      : { observedGeneration: 2, replicas: 1, unavailableReplicas: 1, conditions: [{ type: 'Available', status: 'False' }] },
  };
}

export const ACCEPTED_ROUTE: KubeObject = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'densenet', namespace: 'models' },
  status: { parents: [{ parentRef: { name: 'kserve-ingress-gateway' }, controllerName: 'example.com/gateway', conditions: [{ type: 'Accepted', status: 'True' }] }] },
};
