/**
 * A pipeline run end to end on the bundled mlp, with short windows: a staging server,
 * tuning, packaging, a local canary beside the stable server and the verdict from
 * their metrics. The second run reuses every cacheable step; a third with one changed
 * parameter reruns only what depends on it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRuns, readPipeline, RunStore, runPipeline, type RunRecord } from '../../src/pipeline/index.js';
import { parseModelConfig } from '../../src/repository/model-config.js';
import { EXAMPLE_REPOSITORY } from '../helpers/test-server.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

let dir: string;
let store: RunStore;
const pipelineText = (perfWindowMs: number, maxLatencyRatio: number) => `
name: mlp-e2e
model: mlp
repository: ${JSON.stringify(EXAMPLE_REPOSITORY)}
steps:
  - { name: check, kind: validate }
  - { name: warm, kind: warmup, with: { requests: 10 } }
  - { name: baseline, kind: perf, with: { concurrency: [2], window_ms: ${perfWindowMs} } }
  - name: tuned
    kind: tune
    with: { strategy: grid, window_ms: 150, concurrency: [2], max_batch_sizes: [1, 16], max_queue_delays_us: [0], instance_counts: [1] }
    inputs: { config: check.config }
  - { name: bundle, kind: package, inputs: { config: tuned.config } }
  - { name: canary, kind: deploy, with: { target: local, canary_traffic_percent: 50 } }
  - name: judge
    kind: verify
    with: { window_ms: 600, warmup_ms: 300, request_rate: 30, min_requests: 3, max_error_rate: 0, max_latency_ratio: ${maxLatencyRatio}, promote_to: promoted }
`;

const step = (run: RunRecord, name: string) => run.steps.find((s) => s.name === name)!;
const statuses = (run: RunRecord) => Object.fromEntries(run.steps.map((s) => [s.name, s.status]));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nereid-pipeline-'));
  store = new RunStore(join(dir, 'store'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('nereid pipeline on the bundled mlp', () => {
  let first: RunRecord;
  let second: RunRecord;

  it('runs every step, records lineage and promotes the canary', { timeout: 180_000 }, async () => {
    const file = join(dir, 'mlp.yaml');
    writeFileSync(file, pipelineText(200, 1000));
    const lines: string[] = [];
    first = await runPipeline(readPipeline(file), { store, log: (line) => lines.push(line) });
    expect(first.status, lines.join('\n')).toBe('succeeded');
    expect(Object.values(statuses(first))).toEqual(Array(7).fill('ran'));

    // Lineage: each input is the artifact its producer wrote, by content hash.
    const check = step(first, 'check');
    const tuned = step(first, 'tuned');
    const bundle = step(first, 'bundle');
    expect(check.inputs.model.producer.step).toBe('source');
    expect(tuned.inputs.config.hash).toBe(check.outputs.config.hash);
    expect(bundle.inputs.config.hash).toBe(tuned.outputs.config.hash);
    expect(step(first, 'canary').inputs.repository.hash).toBe(bundle.outputs.repository.hash);

    // The package holds the tuned configuration as a config.pbtxt the repository parser reads.
    const tunedConfig = JSON.parse(readFileSync(tuned.outputs.config.path, 'utf8')) as { max_batch_size: number };
    const packaged = parseModelConfig(readFileSync(join(bundle.outputs.repository.path, 'mlp', 'config.pbtxt'), 'utf8'), 'config.pbtxt');
    expect(packaged.max_batch_size).toBe(tunedConfig.max_batch_size);
    expect([1, 16]).toContain(packaged.max_batch_size);

    // The verdict comes from both servers' metrics; promotion copied the canary's model folder.
    const decision = JSON.parse(readFileSync(step(first, 'judge').outputs.decision.path, 'utf8')) as { decision: string; canary: { requests: number }; stable: { requests: number } };
    expect(decision.decision).toBe('promote');
    expect(decision.canary.requests).toBeGreaterThanOrEqual(3);
    expect(decision.stable.requests).toBeGreaterThan(0);
    expect(parseModelConfig(readFileSync(join(dir, 'promoted', 'mlp', 'config.pbtxt'), 'utf8'), 'config.pbtxt').max_batch_size).toBe(packaged.max_batch_size);
  });

  it('a second run skips the unchanged steps and reuses their outputs', { timeout: 120_000 }, async () => {
    second = await runPipeline(readPipeline(join(dir, 'mlp.yaml')), { store });
    expect(second.status).toBe('succeeded');
    expect(statuses(second)).toEqual({ check: 'cached', warm: 'cached', baseline: 'cached', tuned: 'cached', bundle: 'cached', canary: 'ran', judge: 'ran' });
    for (const name of ['check', 'tuned', 'bundle']) {
      expect(step(second, name).cachedFrom).toBe(first.id);
      expect(step(second, name).outputs).toEqual(step(first, name).outputs);
    }
    // The deployment of this run is new (its servers lived only as long as the first run).
    expect(step(second, 'canary').outputs.deployment.producer.run).toBe(second.id);
  });

  it('a changed parameter reruns that step only; an impossible latency ratio rolls back', { timeout: 120_000 }, async () => {
    writeFileSync(join(dir, 'mlp.yaml'), pipelineText(250, 0));
    const third = await runPipeline(readPipeline(join(dir, 'mlp.yaml')), { store });
    expect(statuses(third)).toEqual({ check: 'cached', warm: 'cached', baseline: 'ran', tuned: 'cached', bundle: 'cached', canary: 'ran', judge: 'ran' });
    expect(third.status).toBe('rolled-back');
    expect(step(third, 'judge').summary).toMatch(/^rollback: .*max_latency_ratio 0/);

    const listed = formatRuns(store.runs(), 'full');
    for (const run of [first, second, third]) expect(listed).toContain(run.id);
    expect(listed).toContain(`tuned (tune): cached from ${first.id}`);
    expect(listed).toMatch(/in: {2}model=sha256:[0-9a-f]{12} \(source\), config=sha256:[0-9a-f]{12} \(check@/);
  });

  it('the CLI lists the runs and prints its help', () => {
    const runs = spawnSync(process.execPath, [MAIN, 'pipeline', 'runs', '--store', store.root, '--brief'], { encoding: 'utf8' });
    expect(runs.status).toBe(0);
    expect(runs.stdout.trim().split('\n')).toHaveLength(3);
    expect(runs.stdout).toContain('rolled-back');
    const help = spawnSync(process.execPath, [MAIN, 'pipeline', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('nereid pipeline run FILE');
    for (const kind of ['validate', 'warmup', 'perf', 'tune', 'package', 'deploy', 'verify']) expect(help.stdout).toContain(`  ${kind}`);
    const missing = spawnSync(process.execPath, [MAIN, 'pipeline', 'runs', '--store', store.root, '--run', 'nope'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("no run 'nope'");
  });
});
