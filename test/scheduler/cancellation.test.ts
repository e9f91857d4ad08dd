/**
 * Client cancellation (HTTP disconnect, gRPC cancel) of queued and running work in the
 * default scheduler, the dynamic batcher and ensembles: the work is dropped or told, and
 * the request counts as a CANCELED failure in statistics and metrics.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEnsemble } from '../helpers/ensemble-models.js';
import { grpc, InferenceClient } from '../helpers/grpc-client.js';
import { addJavaScriptModel, Gate, pending, record, recorderConfig, waitFor } from '../helpers/javascript-models.js';
import { sampleValue, scrape } from '../helpers/prometheus-text.js';
import { scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
const scratch = scratchRepository();
const seen = join(scratch.root, 'seen');
let t: TestServer;
let client: InferenceClient;

/**
 * Leaves a file `started-<n>` in the directory of its `seen_dir` config parameter when
 * execution n begins, runs until its client goes away (request.isCancelled()), at most
 * 30 s, then leaves a file `cancelled-<n>` and answers an error.
 */
const WATCHER = `import { writeFileSync } from 'node:fs';
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let dir = '';
let count = 0;
let started = 0;
export function initialize(args) { dir = args.config.parameters.seen_dir.string_value; }
export function execute(requests) {
  writeFileSync(dir + '/started-' + ++started, '');
  const until = Date.now() + 30000;
  while (!requests.every((r) => r.isCancelled()) && Date.now() < until) Atomics.wait(sleeper, 0, 0, 2);
  if (requests.every((r) => r.isCancelled())) writeFileSync(dir + '/cancelled-' + ++count, '');
  return requests.map(() => ({ error: 'stopped: the client went away' }));
}
`;
const watcherConfig = (dir: string) => `backend: "javascript"
max_batch_size: 8
input [{ name: "INPUT0", data_type: TYPE_INT32, dims: [ -1 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_INT32, dims: [ -1 ] }]
instance_group [{ count: 1, kind: KIND_CPU }]
parameters { key: "seen_dir" value: { string_value: "${dir}" } }
`;

beforeAll(async () => {
  mkdirSync(seen);
  addJavaScriptModel(repo.root, 'watcher', watcherConfig(seen), { source: WATCHER });
  addEnsemble(repo.root, 'watched', {
    maxBatchSize: 8,
    inputs: [{ name: 'IN', type: 'TYPE_INT32', dims: [-1] }],
    outputs: [{ name: 'OUT', type: 'TYPE_INT32', dims: [-1] }],
    steps: [{ model: 'watcher', inputs: { INPUT0: 'IN' }, outputs: { OUTPUT0: 'OUT' } }],
  });
  // No dynamic_batching: Triton's default scheduler.
  addJavaScriptModel(repo.root, 'plain', recorderConfig('instance_group [{ count: 1, kind: KIND_CPU }]'));
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
  scratch.cleanup();
});

const statistics = (model: string) => t.server.registry.resolve(model).statistics;
const seenCount = () => readdirSync(seen).filter((name) => name.startsWith('cancelled-')).length;
const startedCount = () => readdirSync(seen).filter((name) => name.startsWith('started-')).length;
/** Waits until the watcher runs one more execution than `before`: the request is in execute(), not handed ahead. */
const running = (before: number) => () => startedCount() === before + 1;

/** Posts a request and aborts it once `ready()` holds; resolves when the client has given up. */
async function abandonOverHttp(model: string, input: string, ready: () => boolean, what: string): Promise<void> {
  const controller = new AbortController();
  const abandoned = fetch(`${t.url}/v2/models/${model}/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: input, datatype: 'INT32', shape: [1, 2], data: [1, 2] }] }),
    signal: controller.signal,
  }).catch((err: Error) => err.name);
  await waitFor(ready, what);
  controller.abort();
  expect(await abandoned).toBe('AbortError');
}

/** Starts a gRPC call and cancels it once `ready()` holds; resolves with the code the client got. */
async function cancelOverGrpc(model: string, input: string, ready: () => boolean, what: string): Promise<number> {
  const request = { model_name: model, inputs: [{ name: input, datatype: 'INT32', shape: [1, 2], contents: { int_contents: [1, 2] } }] };
  let call: grpc.ClientUnaryCall | undefined;
  const outcome = new Promise<number>((resolve) => {
    call = client.stub.ModelInfer(request, (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK));
  });
  await waitFor(ready, what);
  call!.cancel();
  return outcome;
}

describe('running work', () => {
  it('tells a running JavaScript model that its HTTP client disconnected, and counts a CANCELED failure', async () => {
    const before = seenCount();
    await abandonOverHttp('watcher', 'INPUT0', running(startedCount()), 'the request to run');
    await waitFor(() => seenCount() === before + 1, 'the model to see the cancellation');
    await waitFor(() => pending(t.server, 'watcher') === 0, 'the request to be answered');
    const stats = statistics('watcher');
    expect(stats.failures.CANCELED).toBe(1);
    expect(stats.failures.BACKEND).toBe(0);
    expect(stats.success.count).toBe(0);
  });

  it('tells it when a gRPC client cancels the call', async () => {
    const before = seenCount();
    const code = await cancelOverGrpc('watcher', 'INPUT0', running(startedCount()), 'the call to run');
    expect(code).toBe(grpc.status.CANCELLED);
    await waitFor(() => seenCount() === before + 1, 'the model to see the cancellation');
    await waitFor(() => pending(t.server, 'watcher') === 0, 'the call to be answered');
    expect(statistics('watcher').failures.CANCELED).toBe(2);
  });
});

describe('ensembles', () => {
  it('cancels the running step when the HTTP client of the ensemble disconnects; both count CANCELED', async () => {
    const before = seenCount();
    const canceledSteps = statistics('watcher').failures.CANCELED;
    await abandonOverHttp('watched', 'IN', running(startedCount()), 'the step to run');
    await waitFor(() => seenCount() === before + 1, 'the step model to see the cancellation');
    await waitFor(() => pending(t.server, 'watched') === 0 && pending(t.server, 'watcher') === 0, 'the ensemble to be answered');
    expect(statistics('watched').failures.CANCELED).toBe(1);
    expect(statistics('watched').success.count).toBe(0);
    expect(statistics('watcher').failures.CANCELED).toBe(canceledSteps + 1);
  });

  it('does the same for a gRPC cancel, and reports it in nv_inference_request_failure', async () => {
    const before = seenCount();
    const code = await cancelOverGrpc('watched', 'IN', running(startedCount()), 'the step to run');
    expect(code).toBe(grpc.status.CANCELLED);
    await waitFor(() => seenCount() === before + 1, 'the step model to see the cancellation');
    await waitFor(() => pending(t.server, 'watched') === 0 && pending(t.server, 'watcher') === 0, 'the ensemble to be answered');
    expect(statistics('watched').failures.CANCELED).toBe(2);
    const metrics = await scrape(t.metricsUrl);
    expect(sampleValue(metrics, 'nv_inference_request_failure', { model: 'watched', version: '1', reason: 'CANCELED' })).toBe(2);
  });
});

describe('default scheduler', () => {
  it('drops a queued request when its HTTP client disconnects: never executed, counted CANCELED', async () => {
    const gate = new Gate(scratch.root);
    const held = record(t.url, 'plain', [-1], 1, { gate: gate.path });
    await gate.started();
    // Two slots per instance: the first request behind the gated one is handed to the
    // instance ahead of time, the second waits in the scheduler's queue.
    const ahead = record(t.url, 'plain', [0]);
    await waitFor(() => pending(t.server, 'plain') === 2, 'a request to be handed ahead');
    const controller = new AbortController();
    const abandoned = fetch(`${t.url}/v2/models/plain/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1] }] }),
      signal: controller.signal,
    }).catch((err: Error) => err.name);
    await waitFor(() => pending(t.server, 'plain') === 3, 'the request to be queued');
    controller.abort();
    expect(await abandoned).toBe('AbortError');
    await waitFor(() => pending(t.server, 'plain') === 2, 'the abandoned request to leave the queue');
    gate.open();
    expect((await held).execution).toBe(1);
    expect((await ahead).execution).toBe(2);
    expect((await record(t.url, 'plain', [2])).execution).toBe(3);
    expect(statistics('plain').failures.CANCELED).toBe(1);
    expect(statistics('plain').success.count).toBe(3);
  });

  it('skips an execution handed ahead to a busy instance when every request of it is cancelled before it begins', async () => {
    const startedBefore = startedCount();
    const cancelledBefore = seenCount();
    const canceled = statistics('watcher').failures.CANCELED;
    // One stream, two requests: the first runs, the second is handed ahead behind it.
    // Cancelling the stream cancels both at once.
    const stream = client.stream();
    const ended = new Promise<number>((resolve) => stream.on('error', (err: grpc.ServiceError) => resolve(err.code)));
    const request = { model_name: 'watcher', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 2], contents: { int_contents: [1, 2] } }] };
    stream.write(request);
    stream.write(request);
    await waitFor(() => startedCount() === startedBefore + 1 && pending(t.server, 'watcher') === 2, 'one request to run and one to wait behind it');
    stream.cancel();
    expect(await ended).toBe(grpc.status.CANCELLED);
    await waitFor(() => seenCount() === cancelledBefore + 1, 'the running request to see the cancellation');
    await waitFor(() => pending(t.server, 'watcher') === 0, 'both requests to be answered');
    expect(startedCount()).toBe(startedBefore + 1);
    expect(statistics('watcher').failures.CANCELED).toBe(canceled + 2);
  });
});
