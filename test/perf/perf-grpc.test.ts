/** `nereid perf -i grpc` against a real Nereid gRPC endpoint: unary calls and streams, errors counted. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perfOptions, runPerf, type PerfOptions } from '../../src/perf/index.js';
import { addModel, EXAMPLE_REPOSITORY, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
let scratch: ReturnType<typeof scratchRepository>;

beforeAll(async () => {
  scratch = scratchRepository();
  addModel(scratch.root, 'add_sub', { from: 'add_sub', config: readFileSync(join(EXAMPLE_REPOSITORY, 'add_sub', 'config.pbtxt'), 'utf8') });
  addModel(scratch.root, 'identity_bytes', { from: 'identity_bytes', config: readFileSync(join(EXAMPLE_REPOSITORY, 'identity_bytes', 'config.pbtxt'), 'utf8') });
  const config = `name: "wrong_dims"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\ninput [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ -1 ] } ]\noutput [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ -1 ] } ]\n`;
  addModel(scratch.root, 'wrong_dims', { from: 'add_sub', config });
  server = await startTestServer({ modelRepositories: [scratch.root], allowClientShm: true });
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

function options(partial: Partial<PerfOptions> & Pick<PerfOptions, 'model'>): PerfOptions {
  return perfOptions({ url: server.grpcTarget, protocol: 'grpc', measurementIntervalMs: 500, stabilityFraction: 100, maxTrials: 4, ...partial });
}

describe('nereid perf over gRPC', () => {
  it('measures unary calls and streams at the concurrency they claim', async () => {
    for (const streaming of [false, true]) {
      const result = await runPerf(options({ model: 'add_sub', streaming, load: { kind: 'concurrency', range: { start: 2, end: 2, step: 1 } } }));
      expect(result).toMatchObject({ protocol: 'grpc', streaming, errorCount: 0 });
      const [level] = result.levels;
      expect(level.requestCount).toBeGreaterThan(10);
      const inFlight = level.requestsPerSecond * (level.latencyUs.avg / 1e6);
      // A missing slot would halve it; edge effects of short windows stay well within 30 %.
      expect(inFlight, JSON.stringify(level)).toBeGreaterThan(2 * 0.7);
      expect(inFlight, JSON.stringify(level)).toBeLessThan(2 * 1.15);
    }
  });

  it('sends --request-parameter with every call, typed as InferParameters', async () => {
    const good = await runPerf(options({ model: 'add_sub', requestParameters: { priority: 1, flag: true, note: 'x' }, maxTrials: 1 }));
    expect(good.errorCount).toBe(0);
    const bad = await runPerf(options({ model: 'add_sub', requestParameters: { timeout: false } }));
    expect(bad.levels[0].requestCount).toBe(0);
    expect(bad.levels[0].errors[0].message).toMatch(/Unable to parse 'timeout': expected an unsigned integer, got false$/);
  });

  it('sends BYTES inputs as length-prefixed raw contents', async () => {
    const strings = await runPerf(options({ model: 'identity_bytes', batchSize: 2, shapes: { INPUT0: [3] }, streaming: true }));
    expect(strings.errorCount).toBe(0);
    expect(strings.levels[0].requestCount).toBeGreaterThan(0);
  });

  it('passes the tensors in system shared memory over unary calls and streams', async () => {
    for (const streaming of [false, true]) {
      const result = await runPerf(options({ model: 'add_sub', streaming, sharedMemory: 'system', batchSize: 4 }));
      expect(result).toMatchObject({ sharedMemory: 'system', errorCount: 0 });
      expect(result.levels[0].requestCount).toBeGreaterThan(0);
    }
  });

  it('counts failed calls and failed stream answers with the server message', async () => {
    for (const streaming of [false, true]) {
      const result = await runPerf(options({ model: 'wrong_dims', streaming, shapes: { INPUT0: [17], INPUT1: [17] } }));
      expect(result.levels[0].requestCount).toBe(0);
      expect(result.errorCount).toBeGreaterThan(0);
      const prefix = streaming ? 'gRPC stream: ' : 'gRPC INTERNAL: ';
      expect(result.levels[0].errors[0].message.startsWith(`${prefix}model 'wrong_dims' version 1 failed: Got invalid dimensions for input: INPUT0`)).toBe(true);
    }
  });

  it('names an unknown model and an unreachable server', async () => {
    await expect(runPerf(options({ model: 'nope' }))).rejects.toThrow(
      `cannot profile model 'nope' (ModelMetadata at grpc://${server.grpcTarget}): gRPC INVALID_ARGUMENT: Request for unknown model: 'nope' is not found`,
    );
    const port = await closedPort();
    await expect(runPerf(options({ model: 'add_sub', url: `127.0.0.1:${port}` }))).rejects.toThrow(
      `cannot reach the server at grpc://127.0.0.1:${port} (ServerMetadata: connect ECONNREFUSED 127.0.0.1:${port})`,
    );
  });
});
