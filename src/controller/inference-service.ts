/**
 * The parts of KServe's InferenceService (serving.kserve.io/v1beta1) that the controller
 * reads and writes, and the Kubernetes object shapes it produces.
 */

export const INFERENCE_SERVICE_API_VERSION = 'serving.kserve.io/v1beta1';
export const INFERENCE_SERVICE_KIND = 'InferenceService';
/** The ClusterServingRuntime name of k8s/kserve/servingruntime.yaml. */
export const NEREID_RUNTIME = 'kserve-nereid';
export const FIELD_MANAGER = 'nereid-controller';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

/** Any Kubernetes object, as sent to and received from the API server. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: any;
  status?: any;
}

export type ScaleMetric = 'cpu' | 'memory' | 'concurrency' | 'rps';

export interface ModelSpec {
  modelFormat?: { name: string; version?: string };
  runtime?: string;
  protocolVersion?: string;
  storageUri?: string;
  args?: string[];
  env?: unknown[];
  resources?: unknown;
  [field: string]: unknown;
}

export interface PredictorSpec {
  model?: ModelSpec;
  minReplicas?: number;
  maxReplicas?: number;
  scaleTarget?: number;
  scaleMetric?: ScaleMetric;
  canaryTrafficPercent?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
  serviceAccountName?: string;
  imagePullSecrets?: unknown[];
  [field: string]: unknown;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

export interface TrafficTarget {
  revisionName: string;
  percent: number;
  latestRevision: boolean;
  tag?: string;
}

export interface PredictorStatus {
  latestCreatedRevision?: string;
  latestReadyRevision?: string;
  latestRolledoutRevision?: string;
  previousRolledoutRevision?: string;
  traffic?: TrafficTarget[];
  url?: string;
}

export interface InferenceServiceStatus {
  observedGeneration?: number;
  url?: string;
  address?: { url: string };
  conditions?: Condition[];
  components?: { predictor?: PredictorStatus };
}

export interface InferenceService extends KubeObject {
  spec: { predictor: PredictorSpec; [field: string]: unknown };
  status?: InferenceServiceStatus;
}

/** Whether the controller owns this InferenceService: its predictor's model names the runtime. */
export function namesRuntime(isvc: InferenceService, runtime: string): boolean {
  return isvc.spec?.predictor?.model?.runtime === runtime;
}
