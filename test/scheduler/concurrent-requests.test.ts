/**
 * Thousands of concurrent requests with distinct inputs through the dynamic batcher
 * over HTTP: every answer must carry exactly the rows of its own request, however the
 * requests were batched together.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { float32Difference, float32Sum } from '../helpers/reference-models.js';
import { addModel, EXAMPLE_REPOSITORY, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const REQUESTS = 2000;
const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  const config = readFileSync(join(EXAMPLE_REPOSITORY, 'add_sub', 'config.pbtxt'), 'utf8');
  addModel(repo.root, 'add_sub', {
    from: 'add_sub',
    config: `${config.replace('count: 1', 'count: 2')}\ndynamic_batching { preferred_batch_size: [ 16, 64 ] max_queue_delay_microseconds: 2000 }\n`,
  });
  const bytesConfig = readFileSync(join(EXAMPLE_REPOSITORY, 'identity_bytes', 'config.pbtxt'), 'utf8');
  addModel(repo.root, 'identity_bytes', {
    from: 'identity_bytes',
    config: `${bytesConfig}\ndynamic_batching { max_queue_delay_microseconds: 2000 }\n`,
  });
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

it(`answers ${REQUESTS} concurrent requests, each with the rows of its own input`, async () => {
  const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  const answers = range(REQUESTS, (k) => k).map(async (k) => {
    const rows = (k % 3) + 1;
    const a = range(rows * 16, (i) => k * 64 + i * 0.25);
    const b = range(rows * 16, (i) => (i % 7) - k / 8);
    const { status, json } = await postJson(`${t.url}/v2/models/add_sub/infer`, {
      id: `request-${k}`,
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [rows, 16], data: a },
        { name: 'INPUT1', datatype: 'FP32', shape: [rows, 16], data: b },
      ],
    });
    expect(status).toBe(200);
    expect(json.id).toBe(`request-${k}`);
    expect(json.outputs[0]).toEqual({ name: 'OUTPUT0', datatype: 'FP32', shape: [rows, 16], data: float32Sum(a, b) });
    expect(json.outputs[1]).toEqual({ name: 'OUTPUT1', datatype: 'FP32', shape: [rows, 16], data: float32Difference(a, b) });
  });
  await Promise.all(answers);
  const stats = t.server.registry.resolve('add_sub').statistics;
  expect(stats.success.count).toBe(REQUESTS);
  expect(stats.inferenceCount).toBe(range(REQUESTS, (k) => (k % 3) + 1).reduce((x, y) => x + y, 0));
  // Requests were batched: far fewer executions than requests, and some of them large.
  expect(stats.executionCount).toBeLessThan(REQUESTS / 2);
  expect(Math.max(...stats.batchStatistics().map((b) => b.batchSize))).toBeGreaterThan(8);
  // The client shares the test process and its two cores with the server: generous on a loaded machine.
}, 120_000);

it('batches BYTES requests and gives each its own strings back', async () => {
  const answers = Array.from({ length: 300 }, async (_, k) => {
    const rows = (k % 3) + 1;
    const strings = Array.from({ length: rows * 3 }, (_, i) => `request ${k} element ${i}${'é'.repeat(i % 4)}`);
    const { status, json } = await postJson(`${t.url}/v2/models/identity_bytes/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [rows, 3], data: strings }],
    });
    expect(status).toBe(200);
    expect(json.outputs[0]).toEqual({ name: 'OUTPUT0', datatype: 'BYTES', shape: [rows, 3], data: strings });
  });
  await Promise.all(answers);
  const stats = t.server.registry.resolve('identity_bytes').statistics;
  expect(stats.success.count).toBe(300);
  expect(stats.executionCount).toBeLessThan(300);
});
