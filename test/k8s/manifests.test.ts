import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';
import { addModel, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';
import { scrape } from '../helpers/prometheus-text.js';
import { simpleConfig } from '../helpers/simple-model.js';
import { kustomize as render, readManifests, validateManifest, type Manifest } from './manifest-validation.js';

const K8S = join(dirname(fileURLToPath(import.meta.url)), '../../k8s');
const KUSTOMIZATIONS = ['base', 'overlays/cpu', 'overlays/gpu', 'controller'];

const rendered = new Map<string, Manifest[]>();
/** `kubectl kustomize` once per directory (each run costs about a second here). */
function kustomize(dir: string): Manifest[] {
  if (!rendered.has(dir)) rendered.set(dir, render(dir));
  return structuredClone(rendered.get(dir)!);
}

/** Every plain manifest in k8s/: not kustomizations, not overlay patches, not the adapter's config. */
function manifestFiles(dir = K8S): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return relative(K8S, path) === 'overlays' || entry === 'prometheus-adapter' ? [] : manifestFiles(path);
    return entry.endsWith('.yaml') && entry !== 'kustomization.yaml' ? [path] : [];
  });
}

function only(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0];
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** The `--name=value` flags of `nereid serve` args, parsed by the real CLI parser. */
function serveFlags(args: string[]): Map<string, string> {
  const flags = args.filter((a) => a !== 'serve');
  expect(() => serveOptionsFromArgs(flags)).not.toThrow();
  return new Map(flags.map((a) => a.slice(2).split('=') as [string, string]));
}

describe('manifests validate against their schemas', () => {
  const files = manifestFiles();

  it('finds the manifests', () => {
    const names = files.map((f) => relative(K8S, f));
    for (const expected of ['kserve/servingruntime.yaml', 'kserve/inferenceservice-canary.yaml', 'base/deployment.yaml', 'base/servicemonitor.yaml', 'controller/inferenceservice-crd.yaml']) expect(names).toContain(expected);
  });

  for (const file of files) {
    it(relative(K8S, file), async () => {
      const manifests = readManifests(file);
      expect(manifests.length).toBeGreaterThan(0);
      for (const m of manifests) expect(await validateManifest(m), `${m.kind} ${m.metadata?.name}`).toEqual([]);
    });
  }

  for (const dir of KUSTOMIZATIONS) {
    it(`kubectl kustomize k8s/${dir}`, async () => {
      const manifests = kustomize(join(K8S, dir));
      expect(manifests.length).toBeGreaterThan(2);
      for (const m of manifests) expect(await validateManifest(m), `${m.kind} ${m.metadata.name}`).toEqual([]);
    });
  }

  it('rejects what is wrong, naming the field', async () => {
    const runtime = readManifests(join(K8S, 'kserve/servingruntime.yaml'))[0];
    const misspelt = structuredClone(runtime);
    misspelt.spec.protocolVersion = ['v2'];
    expect((await validateManifest(misspelt)).join()).toContain("'protocolVersion'");
    const badPort = structuredClone(runtime);
    badPort.spec.containers[0].ports[0].containerPort = 'http';
    expect((await validateManifest(badPort)).join()).toContain('containerPort must be integer');
    const deployment = readManifests(join(K8S, 'base/deployment.yaml'))[0];
    delete deployment.spec.selector;
    expect((await validateManifest(deployment)).join()).toContain('selector');
    const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r' }, spec: { rules: [{ backendRefs: [{ name: 's', port: 80, weight: -5 }] }] } };
    expect((await validateManifest(route)).join()).toContain('weight must be >= 0');
    expect(await validateManifest({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't' } })).toEqual(['no schema for example.com/v1 Thing']);
  });
});

describe('KServe serving runtime', () => {
  const runtime = readManifests(join(K8S, 'kserve/servingruntime.yaml'))[0];
  const container = runtime.spec.containers[0];

  it('is the container KServe expects, with flags nereid serve accepts', () => {
    expect(runtime.kind).toBe('ClusterServingRuntime');
    expect(runtime.metadata.name).toBe('kserve-nereid');
    expect(container.name).toBe('kserve-container');
    const flags = serveFlags(container.args);
    expect(flags.get('model-repository')).toBe('/mnt/models');
    expect(flags.get('http-port')).toBe('8080');
    expect(flags.get('grpc-port')).toBe('9000');
    expect(runtime.spec.annotations['prometheus.kserve.io/port']).toBe(flags.get('metrics-port'));
    expect(container.ports).toContainEqual({ name: 'h2c', containerPort: 9000, protocol: 'TCP' });
    expect(container.ports.map((p: { containerPort: number }) => p.containerPort)).toContain(8080);
    expect(runtime.spec.protocolVersions).toEqual(['v2', 'grpc-v2']);
    const formats = runtime.spec.supportedModelFormats as { name: string; autoSelect: boolean }[];
    expect(formats.map((f) => f.name).sort()).toEqual(['onnx', 'triton']);
    expect(formats.every((f) => f.autoSelect)).toBe(true);
    expect(container.securityContext.runAsNonRoot).toBe(true);
    expect(container.resources.requests).toBeDefined();
    expect(container.readinessProbe.httpGet.path).toBe('/v2/health/ready');
    expect(container.livenessProbe.httpGet.path).toBe('/v2/health/live');
  });

  it('serves the examples: plain, autoscaled on concurrency, canary', () => {
    const examples = ['basic', 'autoscaled', 'canary'].map((n) => readManifests(join(K8S, `kserve/inferenceservice-${n}.yaml`))[0]);
    const formats = new Set(runtime.spec.supportedModelFormats.map((f: { name: string }) => f.name));
    for (const isvc of examples) {
      expect(isvc.spec.predictor.model.runtime).toBe('kserve-nereid');
      expect(formats.has(isvc.spec.predictor.model.modelFormat.name)).toBe(true);
    }
    const [, autoscaled, canary] = examples;
    expect(autoscaled.spec.predictor).toMatchObject({ minReplicas: 1, maxReplicas: 5, scaleMetric: 'concurrency' });
    expect(canary.spec.predictor.canaryTrafficPercent).toBe(10);
  });
});

describe('plain Kubernetes (kustomize)', () => {
  let server: TestServer;
  let repo: ReturnType<typeof scratchRepository>;
  beforeAll(async () => {
    repo = scratchRepository();
    addModel(repo.root, 'simple', { from: 'simple', config: simpleConfig() });
    server = await startTestServer({ modelRepositories: [repo.root] });
  });
  afterAll(async () => {
    await server?.server.stop();
    repo?.cleanup();
  });

  for (const dir of ['base', 'overlays/cpu', 'overlays/gpu']) {
    it(`${dir}: the objects point at each other`, () => {
      const manifests = kustomize(join(K8S, dir));
      const deployment = only(manifests, 'Deployment');
      const pod = deployment.spec.template;
      const container = pod.spec.containers[0];
      const portNames = new Set(container.ports.map((p: { name: string }) => p.name));
      expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);

      const flags = serveFlags(container.args);
      expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(flags.get('exit-timeout-secs')));
      expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(container.lifecycle?.preStop).toBeUndefined();
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) expect(portNames.has(container[probe].httpGet.port)).toBe(true);

      const service = only(manifests, 'Service');
      expect(matches(service.spec.selector, pod.metadata.labels)).toBe(true);
      for (const port of service.spec.ports) expect(portNames.has(port.targetPort)).toBe(true);
      expect(service.spec.ports.map((p: { name: string }) => p.name).sort()).toEqual(['grpc', 'http', 'metrics']);

      const pdb = only(manifests, 'PodDisruptionBudget');
      expect(matches(pdb.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
      const monitor = only(manifests, 'ServiceMonitor');
      expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
      expect(monitor.spec.endpoints[0].port).toBe('metrics');
      const hpa = only(manifests, 'HorizontalPodAutoscaler');
      expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
      const claim = only(manifests, 'PersistentVolumeClaim');
      expect(pod.spec.volumes[0].persistentVolumeClaim.claimName).toBe(claim.metadata.name);
    });
  }

  it('overlays pick their nodes', () => {
    const gpu = only(kustomize(join(K8S, 'overlays/gpu')), 'Deployment');
    expect(gpu.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
    expect(gpu.spec.template.spec.tolerations[0].key).toBe('nvidia.com/gpu');
    const cpu = only(kustomize(join(K8S, 'overlays/cpu')), 'Deployment');
    expect(cpu.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(cpu.metadata.name).not.toBe(gpu.metadata.name);
  });

  it("probes answer 200 on a real server, and the HPA's metrics come from Nereid's own series", async () => {
    const container = only(kustomize(join(K8S, 'base')), 'Deployment').spec.template.spec.containers[0];
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      expect((await fetch(`${server.url}${container[probe].httpGet.path}`)).status, probe).toBe(200);
    }
    const exposed = new Set((await scrape(server.metricsUrl)).samples.map((s) => s.name));
    const { rules } = parse(readFileSync(join(K8S, 'prometheus-adapter/rules.yaml'), 'utf8')) as { rules: { seriesQuery: string; resources: unknown; name: { matches: string; as: string }; metricsQuery: string }[] };
    const served = new Map<string, string[]>();
    for (const rule of rules) {
      const series = /^(\w+)\{/.exec(rule.seriesQuery)![1];
      expect(new RegExp(rule.name.matches).test(series)).toBe(true);
      const used = [series, ...[...rule.metricsQuery.matchAll(/\b(nv_\w+)\{/g)].map((m) => m[1])];
      for (const name of used) expect(exposed.has(name), `${name} is a series Nereid exposes`).toBe(true);
      expect(rule.resources).toMatchObject({ overrides: { pod: { resource: 'pod' }, namespace: { resource: 'namespace' } } });
      served.set(rule.name.as, used);
    }
    const hpa = only(kustomize(join(K8S, 'base')), 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics.length).toBeGreaterThan(0);
    for (const metric of hpa.spec.metrics) {
      expect(metric.type).toBe('Pods');
      expect(served.has(metric.pods.metric.name), `${metric.pods.metric.name} is served by a prometheus-adapter rule`).toBe(true);
    }
  });
});
