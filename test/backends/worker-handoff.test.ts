/**
 * The doorbell hand-off between the main thread and model workers (idle-spin.ts) in a real
 * server: a worker that spins for its next command, or has parked after spinning, answers
 * every request exactly once, loses nothing to a crash, a cancellation, an unload or a
 * shutdown, and never holds the server up. NEREID_WORKER_IDLE_SPIN_US is read when an
 * instance starts; a very long window makes sure every command below reaches a spinning worker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { addModel, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const ADD_SUB = `name: "add_sub"
platform: "onnxruntime_onnx"
max_batch_size: 64
input [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ 16 ] }, { name: "INPUT1", data_type: TYPE_FP32, dims: [ 16 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 16 ] }, { name: "OUTPUT1", data_type: TYPE_FP32, dims: [ 16 ] }]
`;

const JS_CONFIG = `backend: "javascript"
max_batch_size: 4
input [{ name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 1 ] }]
`;

/** Echoes INPUT0; parameter `crash` ends its worker, `busy_ms` keeps it busy that long first. */
const JS_MODEL = `
export function execute(requests) {
  if (requests.some((r) => r.parameters.crash)) process.exit(4);
  const busy = Math.max(0, ...requests.map((r) => Number(r.parameters.busy_ms ?? 0)));
  const until = Date.now() + busy;
  while (Date.now() < until);
  return requests.map((r) => ({ outputs: { OUTPUT0: { shape: r.inputs.INPUT0.shape, data: r.inputs.INPUT0.data } } }));
}
`;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `replyWaitMicros`: NEREID_REPLY_WAIT_US, how long the main thread may wait for a reply (reply-wait.ts). */
async function serve(spinMicros: string, replyWaitMicros = '0'): Promise<TestServer> {
  const previous = process.env.NEREID_WORKER_IDLE_SPIN_US;
  const previousWait = process.env.NEREID_REPLY_WAIT_US;
  process.env.NEREID_WORKER_IDLE_SPIN_US = spinMicros;
  process.env.NEREID_REPLY_WAIT_US = replyWaitMicros;
  const { root, cleanup } = scratchRepository();
  cleanups.push(cleanup);
  addModel(root, 'add_sub', { from: 'add_sub', config: ADD_SUB });
  addJavaScriptModel(root, 'echo', JS_CONFIG, { source: JS_MODEL });
  try {
    const t = await startTestServer({ modelRepositories: [root], modelControlMode: 'explicit', loadModels: ['add_sub', 'echo'], modelRestartLimit: 2, modelRestartBackoffMs: 20, allowGrpc: false });
    cleanups.push(() => t.server.stop());
    return t;
  } finally {
    if (previous === undefined) delete process.env.NEREID_WORKER_IDLE_SPIN_US;
    else process.env.NEREID_WORKER_IDLE_SPIN_US = previous;
    if (previousWait === undefined) delete process.env.NEREID_REPLY_WAIT_US;
    else process.env.NEREID_REPLY_WAIT_US = previousWait;
  }
}

const addSub = (t: TestServer, offset: number) =>
  postJson(`${t.url}/v2/models/add_sub/infer`, {
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i + offset) },
      { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: Array.from({ length: 16 }, () => 1) },
    ],
  });

const echo = (t: TestServer, value: number, parameters?: Record<string, unknown>, signal?: AbortSignal) =>
  fetch(`${t.url}/v2/models/echo/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [value] }], ...(parameters ? { parameters } : {}) }),
    signal,
  });

async function successCount(t: TestServer, model: string): Promise<number> {
  const { json } = await getJson(`${t.url}/v2/models/${model}/stats`);
  return json.model_stats[0].inference_stats.success.count;
}

describe('the doorbell hand-off to model workers', () => {
  // The last: a main thread that may wait up to 100 ms for each reply (reply-wait.ts).
  for (const [label, spin, wait] of [['a spinning worker', '30000000', '0'], ['the default window', '300', '0'], ['spinning off', '0', '0'], ['a spinning worker and a main thread waiting for replies', '30000000', '100000']] as const) {
    it(`answers sequential and concurrent requests each once, correctly (${label})`, async () => {
      const t = await serve(spin, wait);
      let expected = 0;
      for (let i = 0; i < 20; i++) {
        const { status, json } = await addSub(t, i);
        expect(status).toBe(200);
        expect(json.outputs[0].data).toEqual(Array.from({ length: 16 }, (_, k) => k + i + 1));
        expect(json.outputs[1].data).toEqual(Array.from({ length: 16 }, (_, k) => k + i - 1));
        expected++;
      }
      for (let wave = 0; wave < 3; wave++) {
        const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => addSub(t, i)));
        answers.forEach(({ status, json }, i) => {
          expect(status).toBe(200);
          expect(json.outputs[0].data[0]).toBe(i + 1);
        });
        expected += answers.length;
        // A pause long enough for the worker to give up spinning and park (at the default window).
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await successCount(t, 'add_sub')).toBe(expected);
    });
  }

  for (const wait of ['0', '100000']) it(`a worker that crashes on a command it took while spinning fails that request only; its successor serves the next (reply wait ${wait} µs)`, async () => {
    const t = await serve('30000000', wait);
    expect(await (await echo(t, 1)).json()).toMatchObject({ outputs: [{ data: [1] }] });
    const crashed = await echo(t, 2, { crash: true });
    expect(crashed.status).toBe(500);
    expect((await crashed.json()).error).toMatch(/exited unexpectedly \(code 4\)/);
    const next = await echo(t, 3);
    expect(next.status).toBe(200);
    expect(await next.json()).toMatchObject({ outputs: [{ data: [3] }] });
    // The restarted worker spins too, and goes on answering.
    for (let i = 0; i < 5; i++) expect((await echo(t, 10 + i)).status).toBe(200);
  });

  it('a request cancelled while queued behind a busy worker is dropped, and the worker goes on with the others', async () => {
    const t = await serve('30000000');
    const slow = echo(t, 1, { busy_ms: 300 });
    const controller = new AbortController();
    const cancelled = echo(t, 2, undefined, controller.signal).catch((err: Error) => err.name);
    setTimeout(() => controller.abort(), 50);
    const after = echo(t, 3);
    expect((await slow).status).toBe(200);
    expect(await cancelled).toBe('AbortError');
    const answer = await after;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ outputs: [{ data: [3] }] });
  });

  it('unloads and shuts down promptly while its workers spin', async () => {
    const t = await serve('30000000');
    expect((await addSub(t, 0)).status).toBe(200);
    expect((await echo(t, 1)).status).toBe(200);
    // Both workers now spin for up to 30 s; the unload's close command must reach them by the doorbell.
    // Not timing assertions on the machine's speed: a close left to the end of the window would take 30 s.
    let started = Date.now();
    const unloaded = await postJson(`${t.url}/v2/repository/models/add_sub/unload`, {});
    expect(unloaded.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(25_000);
    const gone = await addSub(t, 0);
    expect(gone.status).toBe(503);
    expect((await echo(t, 2)).status).toBe(200);
    started = Date.now();
    await t.server.stop();
    cleanups.pop();
    expect(Date.now() - started).toBeLessThan(25_000);
  });
});
