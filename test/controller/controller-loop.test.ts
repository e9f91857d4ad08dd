import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.js';
import { KubeClient } from '../../src/controller/kube-client.js';
import { revisionName, type InferenceService, type KubeObject } from '../../src/controller/index.js';
import { FakeKubeApi } from './fake-kube-api.js';
import { isvc, OPTIONS } from './inference-services.js';

let api: FakeKubeApi;
let controller: Controller | undefined;
const logs: string[] = [];

function kubeConfig(server: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: 'tester', token: 'token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
    currentContext: 'fake',
  });
  return config;
}

async function startController(): Promise<Controller> {
  controller = new Controller(new KubeClient(kubeConfig(api.url)), {
    reconcile: OPTIONS,
    resyncMs: 3_600_000,
    retryBaseMs: 20,
    conflictRetries: 3,
    log: (m) => logs.push(m),
  });
  await controller.start();
  return controller;
}

/** Polls until `check` stops throwing (no timing assertion: only a generous limit). */
async function eventually<T>(check: () => T, what: string, limitMs = 15_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}\nlog:\n${logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** What a kubelet and a Gateway would report once pods run and the route is programmed. */
function becomeReady(name: string): void {
  for (const d of api.list('Deployment', 'models').filter((o) => o.metadata.labels?.['serving.kserve.io/inferenceservice'] === name)) {
    api.update('Deployment', 'models', d.metadata.name, (o) => {
      o.status = { observedGeneration: o.metadata.generation, replicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] };
    });
  }
}

function acceptRoute(name: string): void {
  api.update('HTTPRoute', 'models', name, (o) => {
    o.status = { parents: [{ parentRef: { name: 'kserve-ingress-gateway' }, controllerName: 'example.com/gateway', conditions: [{ type: 'Accepted', status: 'True' }] }] };
  });
}

function condition(object: KubeObject | undefined, type: string): string | undefined {
  return (object?.status?.conditions as { type: string; status: string }[] | undefined)?.find((c) => c.type === type)?.status;
}

function owned(name: string): string[] {
  return ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'HTTPRoute']
    .flatMap((kind) => api.list(kind, 'models').filter((o) => o.metadata.labels?.['serving.kserve.io/inferenceservice'] === name).map((o) => `${kind}/${o.metadata.name}`))
    .sort();
}

beforeEach(async () => {
  logs.length = 0;
  api = new FakeKubeApi();
  await api.start();
});

afterEach(async () => {
  controller?.stop();
  controller = undefined;
  await api.stop();
});

describe('controller loop against an API server', () => {
  it('lists, reconciles, writes status, follows Deployments to Ready, and leaves other runtimes alone', async () => {
    const mine = api.create(isvc('gs://models/densenet/v1', { minReplicas: 1, maxReplicas: 3, scaleMetric: 'concurrency' }));
    api.create({ ...isvc('gs://models/other', {}, 'kserve-tritonserver'), metadata: { name: 'other', namespace: 'models' } });
    await startController();
    const revision = revisionName(mine as InferenceService);
    await eventually(() => expect(owned('densenet')).toEqual([`Deployment/${revision}`, `HTTPRoute/densenet`, `HorizontalPodAutoscaler/${revision}`, 'Service/densenet-predictor', `Service/${revision}`]), 'objects applied');
    expect(owned('other')).toEqual([]);
    expect(api.get('InferenceService', 'models', 'other')!.status).toBeUndefined();
    expect([...api.fieldManagers]).toEqual(['nereid-controller']);
    await eventually(() => expect(condition(api.get('InferenceService', 'models', 'densenet'), 'PredictorReady')).toBe('False'), 'status written');

    acceptRoute('densenet');
    becomeReady('densenet');
    const ready = await eventually(() => {
      const now = api.get('InferenceService', 'models', 'densenet')!;
      expect(condition(now, 'Ready')).toBe('True');
      return now;
    }, 'Ready');
    expect(ready.status.url).toBe('http://densenet-models.example.com');
    expect(ready.status.components.predictor.latestReadyRevision).toBe(revision);

    // Idempotent: reconciling again changes nothing on the server.
    await controller!.idle();
    const before = api.resourceVersion;
    for (const key of controller!.inferenceServices.cache.keys()) controller!.enqueue(key);
    await controller!.idle();
    expect(api.resourceVersion).toBe(before);
  });

  it('canary, promotion and rollback through spec updates', async () => {
    const v1 = api.create(isvc('gs://models/densenet/v1')) as InferenceService;
    await startController();
    const r1 = revisionName(v1);
    await eventually(() => expect(owned('densenet')).toEqual([`Deployment/${r1}`, 'HTTPRoute/densenet', 'Service/densenet-predictor', `Service/${r1}`]), 'v1 applied');
    acceptRoute('densenet');
    becomeReady('densenet');
    await eventually(() => expect(condition(api.get('InferenceService', 'models', 'densenet'), 'Ready')).toBe('True'), 'v1 ready');

    const v2 = api.update('InferenceService', 'models', 'densenet', (o) => {
      o.spec.predictor.canaryTrafficPercent = 20;
      o.spec.predictor.model.storageUri = 'gs://models/densenet/v2';
    }) as InferenceService;
    const r2 = revisionName(v2);
    await eventually(() => {
      const route = api.get('HTTPRoute', 'models', 'densenet')!;
      expect(route.spec.rules[0].backendRefs.map((b: { name: string; weight: number }) => [b.name, b.weight])).toEqual([[r2, 20], [r1, 80]]);
    }, 'traffic split');
    expect(owned('densenet')).toContain(`Deployment/${r1}`);
    await eventually(() => expect(api.get('InferenceService', 'models', 'densenet')!.status.components.predictor.traffic).toHaveLength(2), 'split in status');

    // Rollback: the spec goes back to v1; the canary revision is removed.
    api.update('InferenceService', 'models', 'densenet', (o) => {
      delete o.spec.predictor.canaryTrafficPercent;
      o.spec.predictor.model.storageUri = 'gs://models/densenet/v1';
    });
    await eventually(() => expect(owned('densenet')).toEqual([`Deployment/${r1}`, 'HTTPRoute/densenet', 'Service/densenet-predictor', `Service/${r1}`]), 'canary removed');

    // A canary again, then promotion: v1 goes away.
    api.update('InferenceService', 'models', 'densenet', (o) => {
      o.spec.predictor.canaryTrafficPercent = 50;
      o.spec.predictor.model.storageUri = 'gs://models/densenet/v2';
    });
    await eventually(() => expect(owned('densenet')).toContain(`Deployment/${r2}`), 'canary again');
    api.update('InferenceService', 'models', 'densenet', (o) => {
      delete o.spec.predictor.canaryTrafficPercent;
    });
    await eventually(() => expect(owned('densenet')).toEqual([`Deployment/${r2}`, 'HTTPRoute/densenet', 'Service/densenet-predictor', `Service/${r2}`]), 'promoted');
    await eventually(() => expect(api.get('InferenceService', 'models', 'densenet')!.status.components.predictor).toMatchObject({ latestRolledoutRevision: r2, previousRolledoutRevision: r1 }), 'promotion in status');
  });

  it('409 on the status write: re-reads the InferenceService and writes again', async () => {
    api.create(isvc());
    let conflicts = 0;
    // Another writer touches the object just before the controller's first status write.
    api.interceptors.push((method, path) => {
      if (method === 'PUT' && path.endsWith('/status') && conflicts === 0) {
        conflicts++;
        api.update('InferenceService', 'models', 'densenet', (o) => {
          o.metadata.labels = { team: 'vision' };
        });
      }
      return undefined;
    });
    await startController();
    await eventually(() => expect(condition(api.get('InferenceService', 'models', 'densenet'), 'PredictorReady')).toBe('False'), 'status written');
    const puts = api.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/status'));
    expect(puts[0].status).toBe(409);
    expect(puts.some((r) => r.status === 200)).toBe(true);
    expect(api.requests.some((r) => r.method === 'GET' && r.path === '/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices/densenet')).toBe(true);
    expect(api.get('InferenceService', 'models', 'densenet')!.metadata.labels).toEqual({ team: 'vision' });
  });

  it('failed applies are retried with backoff until they succeed', async () => {
    api.create(isvc());
    let failures = 0;
    api.interceptors.push((method) => (method === 'PATCH' && failures++ < 2 ? { status: 500, message: 'etcdserver: request timed out' } : undefined));
    await startController();
    await eventually(() => expect(owned('densenet').length).toBe(4), 'applied after retries');
    expect(api.requests.filter((r) => r.method === 'PATCH' && r.status === 500)).toHaveLength(2);
    expect(logs.some((l) => l.includes('reconcile failed') && l.includes('etcdserver: request timed out'))).toBe(true);
  });

  it('watch closed by the server: watches again from the last resourceVersion; 410 Gone: lists again', async () => {
    await startController();
    const lists = () => api.requests.filter((r) => r.path === '/apis/serving.kserve.io/v1beta1/inferenceservices' && r.query.get('watch') !== 'true').length;
    expect(lists()).toBe(1);

    api.closeWatches();
    api.create(isvc());
    await eventually(() => expect(owned('densenet')).toContain('Service/densenet-predictor'), 'seen through the new watch');
    expect(lists()).toBe(1);

    // History compacted, then the watch ends: the next watch gets 410, the informer lists again
    // and picks up what changed in between.
    api.compact();
    api.closeWatches();
    api.create({ ...isvc('s3://models/bert'), metadata: { name: 'bert', namespace: 'models' } });
    await eventually(() => expect(owned('bert')).toContain('Service/bert-predictor'), 'seen through the relist');
    expect(lists()).toBe(2);
    expect(logs.some((l) => l.includes('expired (410)'))).toBe(true);
  });

  it('deleting the InferenceService deletes what it owns and nothing is recreated', async () => {
    api.create(isvc());
    await startController();
    await eventually(() => expect(owned('densenet').length).toBe(4), 'applied');
    api.remove('InferenceService', 'models', 'densenet');
    await eventually(() => expect(controller!.inferenceServices.cache.size).toBe(0), 'deletion seen');
    await controller!.idle();
    await eventually(() => expect(owned('densenet')).toEqual([]), 'dependents collected');
    // Nothing is reconciled back into existence.
    const after = api.requests.length;
    for (const key of controller!.inferenceServices.cache.keys()) controller!.enqueue(key);
    await controller!.idle();
    expect(api.requests.slice(after).filter((r) => r.method === 'PATCH')).toEqual([]);
    expect(owned('densenet')).toEqual([]);
  });

  it('a bad storageUri is reported in the status; nothing is applied', async () => {
    api.create(isvc('ftp://models/densenet'));
    await startController();
    const status = await eventually(() => {
      const now = api.get('InferenceService', 'models', 'densenet')!;
      expect(condition(now, 'Ready')).toBe('False');
      return now.status;
    }, 'status');
    expect(status.conditions.find((c: { type: string }) => c.type === 'PredictorReady')).toMatchObject({ reason: 'InvalidStorageUri', message: "storageUri scheme 'ftp://' is not supported; use s3://, gs://, pvc:// or http(s)://" });
    expect(owned('densenet')).toEqual([]);
  });
});
