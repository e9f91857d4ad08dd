/**
 * `nereid perf` against a real Nereid server: the load it generates is the load it
 * claims, stability detection stops, errors are counted. Windows are short so that
 * each run takes a couple of seconds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perfOptions, runPerf, type PerfOptions } from '../../src/perf/index.js';
import { addModel, EXAMPLE_REPOSITORY, getJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
let scratch: ReturnType<typeof scratchRepository>;
let url: string;

beforeAll(async () => {
  scratch = scratchRepository();
  // add_sub's graph with a config that promises any length: the server accepts 17 values, the model rejects them.
  const config = `name: "wrong_dims"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\ninput [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ -1 ] } ]\noutput [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ -1 ] } ]\n`;
  addModel(scratch.root, 'wrong_dims', { from: 'add_sub', config });
  // Only the models these tests use: every model loaded costs start-up time.
  for (const name of ['add_sub', 'simple', 'identity_bytes', 'mlp']) {
    addModel(scratch.root, name, { from: name, config: readFileSync(join(EXAMPLE_REPOSITORY, name, 'config.pbtxt'), 'utf8') });
  }
  server = await startTestServer({ modelRepositories: [scratch.root], allowClientShm: true });
  url = server.url.replace('http://', '');
});

/** A port nothing listens on: bound once, then released. */
function closedPort(): Promise<number> {
  const probe = createServer();
  return new Promise((resolve) =>
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    }),
  );
}

afterAll(async () => {
  await server?.server.stop();
  scratch?.cleanup();
});

/** Short windows and a stability rule that any three windows with traffic pass: these tests are about the load, not about a quiet machine. */
function options(partial: Partial<PerfOptions> & Pick<PerfOptions, 'model'>): PerfOptions {
  return perfOptions({ url, measurementIntervalMs: 400, stabilityFraction: 100, maxTrials: 5, ...partial });
}

describe('nereid perf load', () => {
  it('keeps the concurrency it claims in flight (throughput × latency ≈ concurrency)', async () => {
    const result = await runPerf(options({ model: 'add_sub', load: { kind: 'concurrency', range: { start: 2, end: 6, step: 4 } }, maxThreads: 2 }));
    expect(result.errorCount).toBe(0);
    expect(result.levels.map((l) => l.concurrency)).toEqual([2, 6]);
    for (const level of result.levels) {
      expect(level.requestCount).toBeGreaterThan(20);
      // Little's law: with N requests always in flight, rate × time in flight = N, up to the
      // requests that straddle the window edges (a few % here; more when latencies have long tails).
      const inFlight = level.requestsPerSecond * (level.latencyUs.avg / 1e6);
      expect(inFlight, JSON.stringify(level)).toBeGreaterThan(level.concurrency! * 0.8);
      expect(inFlight, JSON.stringify(level)).toBeLessThan(level.concurrency! * 1.15);
      expect(level.latencyUs.percentiles['50']).toBeLessThanOrEqual(level.latencyUs.percentiles['99']);
      expect(level.generator.threads).toBe(2);
    }
    if (result.serverStatistics.available) {
      // The split of perf_analyzer: every successful request of the windows is one the server counted.
      for (const level of result.levels) {
        expect(level.server!.successCount).toBeGreaterThanOrEqual(level.requestCount * 0.9);
        expect(level.server!.computeInferUs).toBeGreaterThan(0);
      }
    } else {
      expect(result.serverStatistics.reason).toBe(`the server at ${server.url} does not offer the statistics extension`);
      expect(result.levels[0].server).toBeNull();
    }
  });

  it('sends a constant request rate within 5 % of the target (JSON tensors)', async () => {
    const result = await runPerf(
      options({
        model: 'simple',
        load: { kind: 'request-rate', range: { start: 150, end: 150, step: 1 }, distribution: 'constant' },
        measurementIntervalMs: 600,
        inputTensorFormat: 'json',
        outputTensorFormat: 'json',
      }),
    );
    expect(result.tensorFormat).toEqual({ inputs: 'json', outputs: 'json' });
    const [level] = result.levels;
    expect(level.requestRate).toBe(150);
    expect(Math.abs(level.generator.sentPerSecond - 150) / 150, JSON.stringify(level)).toBeLessThan(0.05);
    // Answers lag the sends by the requests in flight at the window edges: a server stalled by a
    // busy machine moves them from one window to the next, so they are only roughly the rate.
    expect(Math.abs(level.requestsPerSecond - 150) / 150, JSON.stringify(level)).toBeLessThan(0.25);
    expect(result.errorCount).toBe(0);
  });

  it('count_windows: a window lasts whole seconds until it has completed the requests it needs', async () => {
    // 100 requests a second and 150 needed: the first second is not enough, the second is.
    const started = performance.now();
    const result = await runPerf(
      options({
        model: 'add_sub',
        load: { kind: 'request-rate', range: { start: 100, end: 100, step: 1 }, distribution: 'constant' },
        measurementMode: 'count_windows',
        measurementRequestCount: 150,
        maxTrials: 1,
      }),
    );
    const elapsedMs = performance.now() - started;
    expect(result.measurementMode).toBe('count_windows');
    const [level] = result.levels;
    expect(level.windows).toBe(1);
    expect(level.requestCount, JSON.stringify(level)).toBeGreaterThanOrEqual(150);
    expect(level.requestCount, JSON.stringify(level)).toBeLessThan(300);
    expect(elapsedMs).toBeGreaterThanOrEqual(2000);
    // One window cannot be stable; the advice is the count, not the interval.
    expect(result.stopReason).toBe('no stable measurement at request rate 100/s within 1 windows; increase --measurement-request-count');
    expect(result.errorCount).toBe(0);
  });

  it('sends a Poisson request rate from two threads that adds up to the target', async () => {
    const result = await runPerf(
      options({ model: 'add_sub', load: { kind: 'request-rate', range: { start: 300, end: 300, step: 1 }, distribution: 'poisson' }, measurementIntervalMs: 600, maxThreads: 2 }),
    );
    const [level] = result.levels;
    expect(result.requestDistribution).toBe('poisson');
    // About 540 requests in three windows: a Poisson count within 15 % of its mean is a 3.7 σ bound.
    expect(Math.abs(level.generator.sentPerSecond - 300) / 300, JSON.stringify(level)).toBeLessThan(0.15);
    expect(level.requestCount).toBeGreaterThan(0);
  });

  it('counts inferences as requests × batch size, with generated strings sent as binary tensors', async () => {
    const result = await runPerf(options({ model: 'identity_bytes', batchSize: 4, shapes: { INPUT0: [3] }, stringLength: 16 }));
    const [level] = result.levels;
    expect(result.errorCount).toBe(0);
    // perf_analyzer's default, since the server offers the binary tensor data extension.
    expect(result.tensorFormat).toEqual({ inputs: 'binary', outputs: 'binary' });
    expect(level.throughput).toBeCloseTo(level.requestsPerSecond * 4, 6);
    expect(result.batchSize).toBe(4);
  });

  it('stops measuring a level once three windows agree, and gives up after --max-trials when they never do', async () => {
    const stable = await runPerf(options({ model: 'add_sub', stabilityFraction: 100, maxTrials: 8, measurementIntervalMs: 300 }));
    expect(stable.levels[0]).toMatchObject({ stable: true, windows: 3, mergedWindows: 3 });
    expect(stable.stopReason).toBeNull();

    const unstable = await runPerf(options({ model: 'add_sub', stabilityFraction: 0, maxTrials: 4, measurementIntervalMs: 250, load: { kind: 'concurrency', range: { start: 1, end: 3, step: 1 } } }));
    expect(unstable.levels).toHaveLength(1);
    expect(unstable.levels[0]).toMatchObject({ concurrency: 1, stable: false, windows: 4 });
    expect(unstable.stopReason).toBe('no stable measurement at concurrency 1 within 4 windows; increase --measurement-interval');
    expect(unstable.warnings).toContain(unstable.stopReason);
  });

  it('stops climbing at the latency threshold', async () => {
    const result = await runPerf(options({ model: 'mlp', batchSize: 64, latencyThresholdMs: 1, load: { kind: 'concurrency', range: { start: 1, end: 0, step: 2 } } }));
    expect(result.levels).toHaveLength(1);
    expect(result.levels[0].withinLatencyThreshold).toBe(false);
    expect(result.stopReason).toBe('latency went over the 1 ms threshold at concurrency 1');
  });

  it('passes the tensors in system shared memory, then unregisters and removes the object', async () => {
    const result = await runPerf(options({ model: 'identity_bytes', sharedMemory: 'system', batchSize: 2, shapes: { INPUT0: [4] } }));
    expect(result).toMatchObject({ sharedMemory: 'system', errorCount: 0 });
    expect(result.levels[0].requestCount).toBeGreaterThan(0);
    const status = await getJson(`${server.url}/v2/systemsharedmemory/status`);
    expect(status.json).toEqual([]);
    expect(readdirSync('/dev/shm').filter((name) => name.startsWith(`nereid-perf-${process.pid}-`))).toEqual([]);
  });

  it('counts the requests the model rejects and stops with the server message', async () => {
    const result = await runPerf(options({ model: 'wrong_dims', shapes: { INPUT0: [17], INPUT1: [17] }, load: { kind: 'concurrency', range: { start: 2, end: 4, step: 2 } } }));
    expect(result.levels).toHaveLength(1);
    const [level] = result.levels;
    expect(level.requestCount).toBe(0);
    expect(level.errorCount).toBeGreaterThan(0);
    expect(result.errorCount).toBeGreaterThanOrEqual(level.errorCount);
    expect(level.errors[0].message).toMatch(/^HTTP 500: model 'wrong_dims' version 1 failed: Got invalid dimensions for input: INPUT0/);
    expect(result.stopReason).toMatch(/^every request failed at concurrency 2: HTTP 500: /);
  });
});

describe('nereid perf request parameters', () => {
  it('sends --request-parameter with every request: the server reads priority and refuses one that is not an integer', async () => {
    const good = await runPerf(options({ model: 'add_sub', requestParameters: { priority: 1, timeout: 5_000_000 }, maxTrials: 1 }));
    expect(good.errorCount).toBe(0);
    expect(good.levels[0].requestCount).toBeGreaterThan(0);
    const bad = await runPerf(options({ model: 'add_sub', requestParameters: { priority: 'high' } }));
    expect(bad.levels[0].requestCount).toBe(0);
    expect(bad.levels[0].errors[0].message).toBe(`HTTP 400: Unable to parse 'priority': expected an unsigned integer, got "high"`);
  });
});

describe('nereid perf refuses what it cannot measure', () => {
  it('names an unknown model with the server message', async () => {
    await expect(runPerf(options({ model: 'nope' }))).rejects.toThrow(`cannot profile model 'nope' (GET ${server.url}/v2/models/nope): HTTP 400: Request for unknown model: 'nope' is not found`);
  });

  it('names an unreachable server', async () => {
    const port = await closedPort();
    await expect(runPerf(options({ model: 'add_sub', url: `127.0.0.1:${port}` }))).rejects.toThrow(
      `cannot reach the server at http://127.0.0.1:${port} (GET /v2: connect ECONNREFUSED 127.0.0.1:${port})`,
    );
  });

  it('needs shapes for variable inputs and a batch the model takes', async () => {
    await expect(runPerf(options({ model: 'wrong_dims' }))).rejects.toThrow("input 'INPUT0' has a variable dimension (dims [-1]); give its shape with --shape INPUT0:<d1,d2,…>");
    await expect(runPerf(options({ model: 'simple', batchSize: 9 }))).rejects.toThrow("-b 9 exceeds the max_batch_size 8 of model 'simple'");
  });
});
