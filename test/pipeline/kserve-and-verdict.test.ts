/**
 * The KServe path where no cluster exists (the manifest is written and the run says it
 * was not applied; verify has nothing to observe and says so), and the pieces verify
 * decides with: a model's counters from a real server's /metrics, and the verdict.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryVerdict, modelCounters, readPipeline, RunStore, runPipeline } from '../../src/pipeline/index.js';
import { EXAMPLE_REPOSITORY, exampleModels, postJson, startTestServer, type TestServer } from '../helpers/test-server.js';

let ts: TestServer;
let dir: string;

beforeAll(async () => {
  ts = await startTestServer(exampleModels('mlp'));
  dir = mkdtempSync(join(tmpdir(), 'nereid-kserve-'));
});
afterAll(async () => {
  await ts.server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('deploy to KServe without a cluster', () => {
  it('writes the InferenceService with canaryTrafficPercent, says it was not applied, and verify is skipped', { timeout: 60_000 }, async () => {
    const file = join(dir, 'kserve.yaml');
    writeFileSync(
      file,
      `name: mlp-kserve
model: mlp
repository: ${JSON.stringify(EXAMPLE_REPOSITORY)}
server: { url: ${ts.url.replace('http://', '')} }
steps:
  - { name: check, kind: validate }
  - { name: bundle, kind: package }
  - { name: rollout, kind: deploy, with: { target: kserve, canary_traffic_percent: 25, namespace: models, storage_uri: "s3://bucket/mlp-repo" } }
  - { name: judge, kind: verify, with: { window_ms: 200 } }
`,
    );
    const store = new RunStore(join(dir, 'store'));
    const run = await runPipeline(readPipeline(file), { store, env: { ...process.env, KUBECONFIG: join(dir, 'no-kubeconfig') } });
    const rollout = run.steps.find((s) => s.name === 'rollout')!;
    expect(rollout.status).toBe('ran');
    expect(rollout.summary).toMatch(/not applied/);
    const deployment = JSON.parse(readFileSync(rollout.outputs.deployment.path, 'utf8')) as { manifest: string; applied: boolean };
    expect(deployment.applied).toBe(false);
    const manifest = parseYaml(readFileSync(deployment.manifest, 'utf8')) as any;
    expect(manifest.apiVersion).toBe('serving.kserve.io/v1beta1');
    expect(manifest.kind).toBe('InferenceService');
    expect(manifest.metadata).toMatchObject({ name: 'mlp', namespace: 'models' });
    expect(manifest.metadata.annotations['nereid.io/package-hash']).toBe(run.steps.find((s) => s.name === 'bundle')!.outputs.repository.hash);
    expect(manifest.spec.predictor.canaryTrafficPercent).toBe(25);
    expect(manifest.spec.predictor.model).toMatchObject({ modelFormat: { name: 'triton' }, storageUri: 's3://bucket/mlp-repo' });
    const judge = run.steps.find((s) => s.name === 'judge')!;
    expect(judge.status).toBe('skipped');
    expect(judge.summary).toMatch(/was not applied/);
    expect(run.status).toBe('succeeded');
  });
});

describe('what verify decides with', () => {
  it("reads a model's request counters from a real server's metrics", async () => {
    const scrape = async () => modelCounters(await (await fetch(ts.metricsUrl)).text(), 'mlp');
    const before = await scrape();
    const body = { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], data: Array(256).fill(0.5) }] };
    for (let i = 0; i < 3; i++) expect((await postJson(`${ts.url}/v2/models/mlp/infer`, body)).status).toBe(200);
    expect((await postJson(`${ts.url}/v2/models/mlp/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] })).status).toBe(400);
    const after = await scrape();
    expect(after.success - before.success).toBe(3);
    expect(after.requestDurationUs).toBeGreaterThan(before.requestDurationUs);
    expect(modelCounters(await (await fetch(ts.metricsUrl)).text(), 'other').success).toBe(0);
  });

  it('promotes only a canary with enough requests, few failures and a latency within the ratio', () => {
    const c = (success: number, failure: number, meanUs: number) => ({ success, failure, requestDurationUs: success * meanUs, queueDurationUs: 0 });
    const t = { minRequests: 10, maxErrorRate: 0.05, maxLatencyRatio: 1.5 };
    expect(canaryVerdict(c(100, 0, 1000), c(20, 0, 1200), t)).toMatchObject({ decision: 'promote', latencyRatio: 1.2 });
    const slow = canaryVerdict(c(100, 0, 1000), c(20, 0, 2000), t);
    expect(slow.decision).toBe('rollback');
    expect(slow.reasons).toEqual(['canary mean latency 2.000 ms is 2.00× the stable 1.000 ms, above max_latency_ratio 1.5']);
    expect(canaryVerdict(c(100, 0, 1000), c(18, 2, 1000), t).reasons[0]).toMatch(/error rate 10\.00% exceeds max_error_rate 5\.00%/);
    expect(canaryVerdict(c(100, 0, 1000), c(5, 0, 1000), t).reasons[0]).toMatch(/served 5 requests .* fewer than min_requests 10/);
    expect(canaryVerdict(c(0, 0, 0), c(20, 0, 1000), t)).toMatchObject({ decision: 'promote', latencyRatio: null });
  });
});
