import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/repository/model-config.js';
import { bestMeasurement, runTune, toPbtxt, tuneHtmlReport, type Measurement, type TuneOptions } from '../../src/tune/index.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tune, tuneArgs } from '../../src/cli/tune-command.js';
import { exampleModels, startTestServer, type TestServer } from '../helpers/test-server.js';

let ts: TestServer;
const hostPort = () => ts.url.replace('http://', '');

beforeAll(async () => {
  ts = await startTestServer(exampleModels('mlp'));
});
afterAll(async () => {
  await ts.server.stop();
});

const base = (): TuneOptions => ({
  model: 'mlp',
  url: hostPort(),
  protocol: 'http',
  strategy: 'grid',
  seed: 7,
  budgetSeconds: 0,
  latencyBudgetMs: 0,
  minThroughput: 0,
  concurrencies: [2],
  batchSize: 1,
  windowMs: 150,
  space: { maxBatchSizes: [1, 16], preferredBatchSizes: [0], maxQueueDelaysUs: [0, 200], instanceCounts: [1], intraOpThreads: [1] },
});

describe('nereid tune against a real server', () => {
  it('grid measures every candidate through config overrides and restores the winner', { timeout: 30_000 }, async () => {
    const result = await runTune(base());
    expect(result.candidatesInSpace).toBe(4);
    expect(result.measurements.map((m) => m.key).sort()).toEqual([
      'mbs=1 nodyn inst=1 threads=1',
      'mbs=16 dyn(pref=-,delay=0us) inst=1 threads=1',
      'mbs=16 dyn(pref=-,delay=200us) inst=1 threads=1',
      'mbs=16 nodyn inst=1 threads=1',
    ]);
    for (const m of result.measurements) {
      expect(m.error).toBeUndefined();
      expect(m.throughput).toBeGreaterThan(0);
    }
    expect(result.best).toBeDefined();
    expect(result.front.length).toBeGreaterThan(0);
    const served = (await (await fetch(`${ts.url}/v2/models/mlp/config`)).json()) as { max_batch_size: number };
    expect(served.max_batch_size).toBe(result.best!.candidate.maxBatchSize);
    const text = toPbtxt(result.bestConfig!);
    expect(parseModelConfig(text, 'config.pbtxt').max_batch_size).toBe(result.best!.candidate.maxBatchSize);
    expect(tuneHtmlReport(result)).toContain('<svg');
  });

  it('asha measures all candidates briefly and the survivor fully; a seed repeats the same bayes order', { timeout: 60_000 }, async () => {
    const space = { maxBatchSizes: [1, 8], preferredBatchSizes: [0], maxQueueDelaysUs: [0, 1000], instanceCounts: [1], intraOpThreads: [1] };
    const asha1 = await runTune({ ...base(), strategy: 'asha', space, windowMs: 300 });
    expect(asha1.candidatesInSpace).toBe(4);
    expect(asha1.measurements.length).toBe(5);
    const fullLength = asha1.measurements.filter((m) => m.windowMs === 300).length;
    expect(fullLength).toBeLessThan(asha1.candidatesInSpace);
    const bayes1 = await runTune({ ...base(), strategy: 'bayes', space });
    const bayes2 = await runTune({ ...base(), strategy: 'bayes', space });
    expect(bayes1.measurements.length).toBe(2);
    expect(bayes2.measurements.map((m) => m.key)).toEqual(bayes1.measurements.map((m) => m.key));
  });

  it('stops at the budget and reports what it measured', async () => {
    const result = await runTune({ ...base(), budgetSeconds: 0.2 });
    expect(result.stoppedBy).toBe('budget');
    expect(result.measurements.length).toBe(1);
  });

  it('an impossible latency budget leaves no winner and the original config in place', async () => {
    const config = async () => (await (await fetch(`${ts.url}/v2/models/mlp/config`)).json()) as { max_batch_size: number };
    const before = await config();
    const result = await runTune({ ...base(), latencyBudgetMs: 0.000001, space: { ...base().space!, maxBatchSizes: [16], maxQueueDelaysUs: [0] } });
    expect(result.best).toBeUndefined();
    expect((await config()).max_batch_size).toBe(before.max_batch_size);
  });

  it('the command writes the winning config.pbtxt, the HTML report and the JSON record', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nereid-tune-'));
    try {
      const code = await tune(['-m', 'mlp', '-u', hostPort(), '--budget-seconds', '1', '-p', '600', '--concurrency-range', '2', '--output-dir', dir]);
      expect(code).toBe(0);
      const written = parseModelConfig(readFileSync(join(dir, 'config.pbtxt'), 'utf8'), 'config.pbtxt');
      expect(written.name).toBe('mlp');
      expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('Pareto front');
      const record = JSON.parse(readFileSync(join(dir, 'tune.json'), 'utf8')) as { stoppedBy: string; measurements: unknown[] };
      expect(record.stoppedBy).toBe('budget');
      expect(record.measurements.length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('over gRPC: reads the configuration, applies candidates with RepositoryModelLoad and measures over gRPC', { timeout: 30_000 }, async () => {
    const space = { maxBatchSizes: [1, 16], preferredBatchSizes: [0], maxQueueDelaysUs: [0], instanceCounts: [1], intraOpThreads: [1] };
    const result = await runTune({ ...base(), url: ts.grpcTarget, protocol: 'grpc', space });
    expect(result.measurements.map((m) => m.key).sort()).toEqual(['mbs=1 nodyn inst=1 threads=1', 'mbs=16 dyn(pref=-,delay=0us) inst=1 threads=1', 'mbs=16 nodyn inst=1 threads=1']);
    for (const m of result.measurements) {
      expect(m.error).toBeUndefined();
      expect(m.throughput).toBeGreaterThan(0);
    }
    // The winner is loaded on the server, and the configuration read over gRPC wrote back as config.pbtxt.
    const served = (await (await fetch(`${ts.url}/v2/models/mlp/config`)).json()) as { max_batch_size: number; dynamic_batching?: unknown; input: Array<{ name: string; dims: number[] }> };
    expect(served.max_batch_size).toBe(result.best!.candidate.maxBatchSize);
    expect(served.dynamic_batching !== undefined).toBe(result.best!.candidate.dynamicBatching);
    const written = parseModelConfig(toPbtxt(result.bestConfig!), 'config.pbtxt');
    expect(written.input[0]).toMatchObject({ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [256] });
    await expect(runTune({ ...base(), url: ts.grpcTarget, protocol: 'grpc', model: 'nope' })).rejects.toThrow(/nope/);
  });

  it('the latency objective picks the lowest p99 among the admissible levels', { timeout: 30_000 }, async () => {
    const space = { maxBatchSizes: [1, 16], preferredBatchSizes: [0], maxQueueDelaysUs: [0], instanceCounts: [1], intraOpThreads: [1] };
    const result = await runTune({ ...base(), objective: 'latency', concurrencies: [1, 2], space });
    expect(result.objective).toBe('latency');
    const feasible = result.measurements.filter((m) => m.feasible);
    expect(feasible.length).toBeGreaterThan(0);
    expect(result.best!.p99Ms).toBe(Math.min(...feasible.map((m) => m.p99Ms)));
    // An unreachable throughput floor leaves no level admissible under the latency objective.
    const none = await runTune({ ...base(), objective: 'latency', minThroughput: 1e9, space: { ...space, maxBatchSizes: [16] } });
    expect(none.best).toBeUndefined();
  });

  it('an unknown model fails with the server message', async () => {
    await expect(runTune({ ...base(), model: 'nope' })).rejects.toThrow(/nope/);
  });
});

describe('nereid tune flags', () => {
  it('parses the flags and names the bad one', () => {
    const parsed = tuneArgs(['-m', 'mlp', '-u', 'h:1', '--strategy', 'asha', '--seed', '3', '--latency-budget', '5']);
    expect(parsed.help).toBe(false);
    if (!parsed.help) expect(parsed.options).toMatchObject({ model: 'mlp', url: 'h:1', strategy: 'asha', seed: 3, latencyBudgetMs: 5 });
    expect(() => tuneArgs(['-m', 'mlp', '--strategy', 'hill'])).toThrow(/--strategy/);
    expect(() => tuneArgs(['--strategy', 'grid'])).toThrow(/-m MODEL/);
    expect(() => tuneArgs(['-m', 'mlp', '-i', 'udp'])).toThrow(/-i must be http or grpc, got 'udp'/);
    expect(() => tuneArgs(['-m', 'mlp', '--objective', 'speed'])).toThrow(/--objective must be throughput or latency/);
    const grpc = tuneArgs(['-m', 'mlp', '-i', 'grpc', '--objective', 'perf_latency_p99']);
    if (!grpc.help) expect(grpc.options).toMatchObject({ protocol: 'grpc', url: 'localhost:8001', objective: 'latency' });
    expect(() => tuneArgs(['-m', 'mlp', '--concurrency-range', '1,x'])).toThrow(/--concurrency-range/);
  });
});

describe('choosing the winner', () => {
  const measured = (maxBatchSize: number, throughput: number, windowMs: number, feasible = true): Measurement => ({
    candidate: { maxBatchSize, dynamicBatching: false, preferredBatchSize: 0, maxQueueDelayUs: 0, instanceCount: 1, intraOpThreads: 1 },
    key: `mbs=${maxBatchSize}`,
    objective: 'throughput',
    throughput,
    p99Ms: 1,
    concurrency: 4,
    feasible,
    measuredSeconds: windowMs / 1000,
    windowMs,
  });

  it('a candidate measured only with a short window does not beat the full-window finalists', () => {
    const winner = bestMeasurement([measured(1, 9000, 100), measured(4, 5000, 100), measured(8, 4000, 100), measured(4, 5200, 1000), measured(8, 4100, 1000)], 1000, 'throughput');
    expect(winner?.key).toBe('mbs=4');
  });

  it('without any full-window measurement the best of the longest per candidate wins; infeasible ones never do', () => {
    expect(bestMeasurement([measured(1, 9000, 100), measured(4, 5000, 100), measured(4, 5100, 300)], 1000, 'throughput')?.key).toBe('mbs=1');
    expect(bestMeasurement([measured(1, 9000, 1000, false), measured(4, 5000, 1000)], 1000, 'throughput')?.key).toBe('mbs=4');
    expect(bestMeasurement([measured(1, 9000, 1000, false)], 1000, 'throughput')).toBeUndefined();
  });
});

describe('config.pbtxt writer', () => {
  it('writes text the repository parser reads back', () => {
    const cfg = {
      name: 'm',
      platform: 'onnxruntime_onnx',
      max_batch_size: 8,
      input: [{ name: 'X', data_type: 'TYPE_FP32', dims: [4] }],
      output: [{ name: 'Y', data_type: 'TYPE_FP32', dims: [4] }],
      instance_group: [{ count: 2, kind: 'KIND_CPU' }],
      dynamic_batching: { preferred_batch_size: [4], max_queue_delay_microseconds: 100 },
      parameters: { intra_op_thread_count: { string_value: '1' } },
    };
    const parsed = parseModelConfig(toPbtxt(cfg), 'config.pbtxt');
    expect(parsed.max_batch_size).toBe(8);
    expect(parsed.instance_group[0].count).toBe(2);
    expect(parsed.dynamic_batching?.preferred_batch_size).toEqual([4]);
    expect(parsed.parameters.intra_op_thread_count.string_value).toBe('1');
  });
});
