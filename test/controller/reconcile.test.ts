import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { reconcile, revisionName, SCALE_METRICS, type InferenceService, type ReconcileResult } from '../../src/controller/index.js';
import { validateManifest, type Manifest } from '../k8s/manifest-validation.js';
import { ACCEPTED_ROUTE, EARLIER, isvc, NOW, observedDeployment, OPTIONS } from './inference-services.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Compares with test/controller/golden/NAME.yaml; UPDATE_GOLDEN=1 rewrites it (review the diff). */
function expectGolden(name: string, result: ReconcileResult): void {
  const file = join(HERE, 'golden', `${name}.yaml`);
  const text = stringify(result, { aliasDuplicateObjects: false, lineWidth: 0 });
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    writeFileSync(file, text);
    if (process.env.UPDATE_GOLDEN !== '1') throw new Error(`golden file ${name}.yaml was missing and has been written: review it and run again`);
  }
  expect(text).toBe(readFileSync(file, 'utf8'));
}

function synced(result: ReconcileResult) {
  if (result.action !== 'sync') throw new Error(`expected a sync, got: ${result.reason}`);
  return result;
}

function withStatus(service: InferenceService, rolledOut: string, extra: Record<string, unknown> = {}): InferenceService {
  return { ...service, status: { components: { predictor: { latestRolledoutRevision: rolledOut, latestReadyRevision: rolledOut, ...extra } } } };
}

const V1 = isvc('gs://models/densenet/v1');
const V1_REVISION = revisionName(V1);

describe('reconcile: golden files', () => {
  it('new InferenceService: a revision, its Service, the predictor Service and an HTTPRoute; not ready yet', () => {
    expectGolden('new', reconcile(V1, { deployments: [] }, OPTIONS, NOW));
  });

  it('ready once the Deployment has an available replica and the Gateway accepted the route', () => {
    const previous = synced(reconcile(V1, { deployments: [] }, OPTIONS, EARLIER));
    const ready = { ...V1, status: previous.status };
    const result = synced(reconcile(ready, { deployments: [observedDeployment(V1_REVISION, true)], route: ACCEPTED_ROUTE }, OPTIONS, NOW));
    expectGolden('ready', result);
    expect(result.status.conditions!.map((c) => [c.type, c.status, c.lastTransitionTime])).toEqual([
      ['IngressReady', 'True', NOW],
      ['PredictorReady', 'True', NOW],
      ['Ready', 'True', NOW],
    ]);
    // Unchanged conditions keep their transition time.
    const again = synced(reconcile({ ...V1, status: result.status }, { deployments: [observedDeployment(V1_REVISION, true)], route: ACCEPTED_ROUTE }, OPTIONS, '2026-12-04T07:00:00Z'));
    expect(again.status.conditions!.every((c) => c.lastTransitionTime === NOW)).toBe(true);
  });

  it('autoscaling on concurrency becomes an HPA on the pending-request metric', () => {
    const scaled = isvc('s3://models/densenet', { minReplicas: 2, maxReplicas: 6, scaleMetric: 'concurrency', scaleTarget: 4 });
    const result = synced(reconcile(scaled, { deployments: [] }, OPTIONS, NOW));
    expectGolden('autoscaled', result);
    const deployment = result.apply.find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec.replicas).toBeUndefined();
    const hpa = result.apply.find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    expect(hpa.spec.metrics[0].pods.metric.name).toBe(SCALE_METRICS.concurrency);
  });

  it('canary: the new revision takes canaryTrafficPercent, the rolled-out one keeps the rest', () => {
    const v2 = withStatus(isvc('gs://models/densenet/v2', { canaryTrafficPercent: 10 }), V1_REVISION);
    const result = synced(reconcile(v2, { deployments: [observedDeployment(V1_REVISION, true)], route: ACCEPTED_ROUTE }, OPTIONS, NOW));
    expectGolden('canary', result);
    const route = result.apply.find((o) => o.kind === 'HTTPRoute')!;
    expect(route.spec.rules[0].backendRefs.map((b: { name: string; weight: number }) => [b.name, b.weight])).toEqual([
      [revisionName(v2), 10],
      [V1_REVISION, 90],
    ]);
    // The stable revision's Deployment is left as it was made; only its Service is kept.
    expect(result.apply.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toEqual([revisionName(v2)]);
    expect(result.delete).toEqual([]);
    expect(result.status.components!.predictor!.latestRolledoutRevision).toBe(V1_REVISION);
    expect(result.status.conditions!.find((c) => c.type === 'PredictorReady')).toMatchObject({ status: 'False', reason: 'RevisionNotReady' });
  });

  it('promotion: canaryTrafficPercent removed, the new revision takes everything and the old one is deleted', () => {
    const v2 = isvc('gs://models/densenet/v2');
    const result = synced(reconcile(withStatus(v2, V1_REVISION), { deployments: [observedDeployment(V1_REVISION, true), observedDeployment(revisionName(v2), true)], route: ACCEPTED_ROUTE }, OPTIONS, NOW));
    expectGolden('promoted', result);
    expect(result.delete.map((r) => `${r.kind}/${r.name}`)).toEqual([`Deployment/${V1_REVISION}`, `Service/${V1_REVISION}`]);
    expect(result.status.components!.predictor).toMatchObject({ latestRolledoutRevision: revisionName(v2), previousRolledoutRevision: V1_REVISION });
  });

  it('rollback: the spec reverted to the rolled-out one, the canary revision is removed', () => {
    const v2 = isvc('gs://models/densenet/v2', { canaryTrafficPercent: 10 });
    const reverted = withStatus(V1, V1_REVISION);
    const result = synced(reconcile(reverted, { deployments: [observedDeployment(V1_REVISION, true), observedDeployment(revisionName(v2), false)], route: ACCEPTED_ROUTE }, OPTIONS, NOW));
    expectGolden('rolled-back', result);
    expect(result.status.components!.predictor!.traffic).toEqual([{ revisionName: V1_REVISION, percent: 100, latestRevision: true }]);
    expect(result.delete.filter((r) => r.kind === 'Deployment').map((r) => r.name)).toEqual([revisionName(v2)]);
    expect(result.status.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
  });

  it('canaryTrafficPercent 0 sends everything back to the rolled-out revision and keeps the canary', () => {
    const v2 = withStatus(isvc('gs://models/densenet/v2', { canaryTrafficPercent: 0 }), V1_REVISION);
    const result = synced(reconcile(v2, { deployments: [observedDeployment(V1_REVISION, true), observedDeployment(revisionName(v2), false)], route: ACCEPTED_ROUTE }, OPTIONS, NOW));
    expect(result.status.components!.predictor!.traffic!.map((t) => t.percent)).toEqual([0, 100]);
    expect(result.delete).toEqual([]);
    // A revision with no traffic does not hold readiness back.
    expect(result.status.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
  });

  it('an InferenceService naming another runtime is ignored', () => {
    const other = isvc('gs://models/densenet/v1', {}, 'kserve-tritonserver');
    expectGolden('other-runtime', reconcile(other, { deployments: [] }, OPTIONS, NOW));
    const noModel: InferenceService = { ...V1, spec: { predictor: { containers: [{ name: 'c', image: 'x' }] } } };
    expect(reconcile(noModel, { deployments: [] }, OPTIONS, NOW).action).toBe('ignore');
  });

  it('deletion: nothing is written for a deleted InferenceService; everything made carries its owner reference', () => {
    const deleting = { ...V1, metadata: { ...V1.metadata, deletionTimestamp: NOW } };
    expectGolden('deleting', reconcile(deleting, { deployments: [observedDeployment(V1_REVISION, true)] }, OPTIONS, NOW));
    const made = synced(reconcile(isvc('s3://b/m', { minReplicas: 1, maxReplicas: 3 }), { deployments: [] }, OPTIONS, NOW)).apply;
    expect(made.map((o) => o.kind).sort()).toEqual(['Deployment', 'HTTPRoute', 'HorizontalPodAutoscaler', 'Service', 'Service']);
    for (const object of made) {
      expect(object.metadata.ownerReferences).toEqual([{ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', name: 'densenet', uid: V1.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      expect(object.metadata.namespace).toBe('models');
    }
  });

  it('autoscaling turned off, or its revision gone: the HPA is deleted', () => {
    const hpa = (name: string) => ({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name, namespace: 'models' } });
    const observed = { deployments: [observedDeployment(V1_REVISION, true), observedDeployment('densenet-predictor-00000000', true)], autoscalers: [hpa(V1_REVISION), hpa('densenet-predictor-00000000')] };
    const off = synced(reconcile(V1, observed, OPTIONS, NOW));
    expect(off.delete.filter((r) => r.kind === 'HorizontalPodAutoscaler').map((r) => r.name)).toEqual([V1_REVISION, 'densenet-predictor-00000000']);
    const on = synced(reconcile(isvc('gs://models/densenet/v1', { maxReplicas: 3 }), observed, OPTIONS, NOW));
    expect(on.delete.filter((r) => r.kind === 'HorizontalPodAutoscaler').map((r) => r.name)).toEqual(['densenet-predictor-00000000']);
    expect(on.apply.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => o.metadata.name)).toEqual([V1_REVISION]);
  });

  it('without a Gateway: no HTTPRoute, the cluster-local URL, ingress ready', () => {
    const result = synced(reconcile(V1, { deployments: [observedDeployment(V1_REVISION, true)] }, { ...OPTIONS, gateway: null }, NOW));
    expectGolden('no-gateway', result);
    expect(result.apply.some((o) => o.kind === 'HTTPRoute')).toBe(false);
    expect(result.status.url).toBe('http://densenet-predictor.models.svc.cluster.local');
  });
});

describe('reconcile: storage', () => {
  const initOf = (uri: string) => synced(reconcile(isvc(uri), { deployments: [] }, OPTIONS, NOW)).apply.find((o) => o.kind === 'Deployment')!.spec.template.spec;

  it('s3://, gs:// and http(s):// archives are copied by an init container; pvc:// is mounted', () => {
    expect(initOf('s3://bucket/path').initContainers[0].command).toEqual(['aws', 's3', 'cp', '--recursive', 's3://bucket/path', '/mnt/models']);
    expect(initOf('gs://bucket/path/').initContainers[0].command).toEqual(['gcloud', 'storage', 'cp', '--recursive', 'gs://bucket/path/*', '/mnt/models']);
    const http = initOf('https://example.com/repo.tar.gz?sig=1;rm -rf /').initContainers[0];
    // The URI is an argument of the script, never part of it.
    expect(http.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(http.command[2]).not.toContain('example.com');
    expect(http.command.slice(3)).toEqual(['storage-initializer', 'https://example.com/repo.tar.gz?sig=1;rm -rf /', '/mnt/models']);
    const pvc = initOf('pvc://model-claim/repositories/densenet');
    expect(pvc.initContainers).toBeUndefined();
    expect(pvc.volumes).toEqual([{ name: 'model-repository', persistentVolumeClaim: { claimName: 'model-claim', readOnly: true } }]);
    expect(pvc.containers[0].volumeMounts).toEqual([{ name: 'model-repository', mountPath: '/mnt/models', readOnly: true, subPath: 'repositories/densenet' }]);
  });

  for (const [uri, message] of [
    ['hdfs://cluster/models', "storageUri scheme 'hdfs://' is not supported; use s3://, gs://, pvc:// or http(s)://"],
    ['/models/densenet', "storageUri '/models/densenet' has no scheme; use s3://, gs://, pvc:// or http(s)://"],
    ['https://example.com/model.onnx', "storageUri 'https://example.com/model.onnx': an http(s) model repository must be a .tar, .tar.gz or .tgz archive"],
    ['pvc://', "storageUri 'pvc://' names no PersistentVolumeClaim (pvc://CLAIM/PATH)"],
    ['s3:///path', "storageUri 's3:///path' names no bucket"],
    ['', 'spec.predictor.model.storageUri is required'],
  ]) {
    it(`'${uri}' is reported in the status and nothing is applied`, () => {
      const result = synced(reconcile(isvc(uri), { deployments: [] }, OPTIONS, NOW));
      expect(result.apply).toEqual([]);
      expect(result.status.conditions!.find((c) => c.type === 'PredictorReady')).toMatchObject({ status: 'False', reason: 'InvalidStorageUri', message });
      expect(result.status.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', message });
    });
  }
  it('a bad storageUri golden', () => expectGolden('invalid-storage', reconcile(isvc('hdfs://cluster/models'), { deployments: [] }, OPTIONS, NOW)));
});

describe('reconcile: revisions and idempotence', () => {
  it('the same input gives the same output', () => {
    const observed = { deployments: [observedDeployment(V1_REVISION, true)], route: ACCEPTED_ROUTE };
    expect(reconcile(withStatus(V1, V1_REVISION), observed, OPTIONS, NOW)).toEqual(reconcile(withStatus(V1, V1_REVISION), observed, OPTIONS, NOW));
  });

  it('scaling and traffic do not make a new revision; the model and the pod do', () => {
    expect(revisionName(isvc('gs://models/densenet/v1', { minReplicas: 3, maxReplicas: 9, canaryTrafficPercent: 5 }))).toBe(V1_REVISION);
    expect(revisionName(isvc('gs://m/v2'))).not.toBe(revisionName(isvc('gs://m/v1')));
    expect(revisionName(isvc('gs://models/densenet/v1', { nodeSelector: { pool: 'a' } }))).not.toBe(V1_REVISION);
    const reordered: InferenceService = { ...V1, spec: { predictor: { model: { storageUri: 'gs://models/densenet/v1', protocolVersion: 'v2', runtime: 'kserve-nereid', modelFormat: { name: 'onnx' } } } } };
    expect(revisionName(reordered)).toBe(V1_REVISION);
    const long: InferenceService = { ...V1, metadata: { ...V1.metadata, name: 'a'.repeat(70) } };
    expect(revisionName(long).length).toBeLessThanOrEqual(63);
  });

  it('every object it makes validates against the Kubernetes and Gateway API schemas', async () => {
    const cases = [
      reconcile(isvc('s3://b/m', { minReplicas: 1, maxReplicas: 4, scaleMetric: 'rps' }), { deployments: [] }, OPTIONS, NOW),
      reconcile(isvc('pvc://claim/m', { minReplicas: 1, maxReplicas: 4, scaleMetric: 'memory', nodeSelector: { pool: 'gpu' } }), { deployments: [] }, OPTIONS, NOW),
      reconcile(withStatus(isvc('https://e.com/r.tgz', { canaryTrafficPercent: 30 }), V1_REVISION), { deployments: [observedDeployment(V1_REVISION, true)] }, OPTIONS, NOW),
    ];
    let checked = 0;
    for (const result of cases) {
      for (const object of synced(result).apply) {
        expect(await validateManifest(object as unknown as Manifest), `${object.kind} ${object.metadata.name}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it("the HPA's custom metrics are served by the prometheus-adapter rules", () => {
    const rules = parse(readFileSync(join(HERE, '../../k8s/prometheus-adapter/rules.yaml'), 'utf8')) as { rules: { name: { as: string } }[] };
    const served = new Set(rules.rules.map((r) => r.name.as));
    for (const metric of Object.values(SCALE_METRICS)) expect(served.has(metric), metric).toBe(true);
  });
});
