/** ModelStreamInfer: a bidirectional stream of independent requests, through a real grpc-js client. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32Sum, int32Sum } from '../helpers/reference-models.js';
import { floatsOf, grpc, InferenceClient, int32sOf, rawBytes, unpackStrings, type Message } from '../helpers/grpc-client.js';
import { addSlowModel, pendingRequests, slowRequest, until } from '../helpers/slow-model.js';
import { addModel, EXAMPLE_REPOSITORY, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const { status } = grpc;
const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  for (const name of ['add_sub', 'simple', 'identity_bytes']) {
    addModel(repo.root, name, { from: name, config: readFileSync(join(EXAMPLE_REPOSITORY, name, 'config.pbtxt'), 'utf8') });
  }
  addSlowModel(repo.root);
  t = await startTestServer({ modelRepositories: [repo.root] });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t.server.stop();
  repo.cleanup();
});

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

function addSub(id: string, a: number[], b: number[]) {
  return {
    model_name: 'add_sub',
    id,
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [1, 16] },
      { name: 'INPUT1', datatype: 'FP32', shape: [1, 16] },
    ],
    raw_input_contents: [rawBytes(Float32Array.from(a)), rawBytes(Float32Array.from(b))],
  };
}

/** Writes every request, half-closes, and collects every response and the final status. */
function exchange(requests: object[]): Promise<{ responses: Message[]; code: number }> {
  const stream = client.stream();
  const responses: Message[] = [];
  stream.on('data', (response: Message) => responses.push(response));
  const done = new Promise<{ responses: Message[]; code: number }>((resolve, reject) => {
    stream.on('status', (s: grpc.StatusObject) => resolve({ responses, code: s.code }));
    stream.on('error', reject);
  });
  for (const request of requests) stream.write(request);
  stream.end();
  return done;
}

describe('ModelStreamInfer', () => {
  it('answers interleaved good and bad requests each on its own, and stays open after errors', async () => {
    const a = range(16, (i) => i);
    const b = range(16, (i) => 2 * i);
    const { responses, code } = await exchange([
      addSub('good-0', a, b),
      { ...addSub('bad-unknown-model', a, b), model_name: 'nope' },
      {
        model_name: 'simple',
        id: 'good-2',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: b } },
        ],
      },
      { ...addSub('bad-size', a, b), raw_input_contents: [Buffer.alloc(64), Buffer.alloc(12)] },
      {
        model_name: 'identity_bytes',
        id: 'good-4',
        inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 2], contents: { bytes_contents: [Buffer.from('x'), Buffer.from('yz')] } }],
      },
      { ...addSub('bad-output', a, b), outputs: [{ name: 'NOPE' }] },
      addSub('good-6', b, b),
    ]);
    expect(code).toBe(status.OK);
    expect(responses).toHaveLength(7);
    const byId = new Map<string, Message>(responses.map((r) => [r.infer_response.id, r]));
    expect([...byId.keys()].sort()).toEqual(['bad-output', 'bad-size', 'bad-unknown-model', 'good-0', 'good-2', 'good-4', 'good-6']);

    expect(byId.get('bad-unknown-model').error_message).toBe(`Request for unknown model: 'nope' is not found`);
    expect(byId.get('bad-size').error_message).toBe(
      `input 'INPUT1': raw content of 12 bytes does not match shape [1,16] of FP32, which needs 64 bytes`,
    );
    expect(byId.get('bad-output').error_message).toBe(`unexpected inference output 'NOPE' for model 'add_sub'`);
    expect(byId.get('bad-output').infer_response.model_name).toBe('add_sub');

    for (const id of ['good-0', 'good-2', 'good-4', 'good-6']) expect(byId.get(id).error_message).toBe('');
    expect(floatsOf(byId.get('good-0').infer_response.raw_output_contents[0])).toEqual(float32Sum(a, b));
    expect(int32sOf(byId.get('good-2').infer_response.raw_output_contents[0])).toEqual(int32Sum(a, b));
    expect(unpackStrings(byId.get('good-4').infer_response.raw_output_contents[0]).map(String)).toEqual(['x', 'yz']);
    expect(floatsOf(byId.get('good-6').infer_response.raw_output_contents[0])).toEqual(float32Sum(b, b));
  });

  it('answers many pipelined requests, each with its own id and rows', async () => {
    const requests = range(200, (i) => addSub(`r${i}`, range(16, (k) => k + i), range(16, () => i)));
    const { responses, code } = await exchange(requests);
    expect(code).toBe(status.OK);
    expect(responses).toHaveLength(200);
    for (const response of responses) {
      const i = Number(response.infer_response.id.slice(1));
      expect(response.error_message).toBe('');
      expect(floatsOf(response.infer_response.raw_output_contents[0])).toEqual(float32Sum(range(16, (k) => k + i), range(16, () => i)));
    }
  });

  it('ends at once when the client half-closes with nothing in flight', async () => {
    expect(await exchange([])).toEqual({ responses: [], code: status.OK });
  });

  const successfulRequests = async (model: string): Promise<number> => {
    const stats = await fetch(`${t.url}/v2/models/${model}/stats`).then((res) => res.json());
    return stats.model_stats[0].inference_stats.success.count;
  };

  it('drops the queued requests of a client that cancels mid-stream, and stays healthy', async () => {
    const stream = client.stream();
    const cancelled = new Promise<number>((resolve) => stream.on('error', (err: grpc.ServiceError) => resolve(err.code)));
    stream.on('data', () => {});
    // One long request occupies the only instance; the small ones queue behind it.
    stream.write(slowRequest(4096, 'long'));
    for (let i = 0; i < 40; i++) stream.write(slowRequest(1, `small-${i}`));
    await until(() => pendingRequests(t.server, 'slow_mlp') >= 35, 5000, 'the requests to queue');
    const queued = pendingRequests(t.server, 'slow_mlp');
    const executedBefore = await successfulRequests('slow_mlp');
    stream.cancel();
    expect(await cancelled).toBe(status.CANCELLED);
    await until(() => pendingRequests(t.server, 'slow_mlp') === 0, 5000, 'the requests in execution to finish');
    // Only what the instance already held ran; the queued requests were dropped, not executed.
    expect((await successfulRequests('slow_mlp')) - executedBefore).toBeLessThan(queued / 2);

    expect(await client.call('ServerReady')).toEqual({ ready: true });
    const a = range(16, (i) => i);
    const after = await client.call('ModelInfer', addSub('after', a, a));
    expect(floatsOf(after.raw_output_contents[0])).toEqual(float32Sum(a, a));
  });
});

describe('shutdown with a stream open', () => {
  it('answers the requests in flight, ends the stream with OK, then stops', async () => {
    const own = await startTestServer({ modelRepositories: [repo.root] });
    const ownClient = new InferenceClient(own.grpcTarget);
    try {
      const stream = ownClient.stream();
      const responses: Message[] = [];
      stream.on('data', (response: Message) => responses.push(response));
      const ended = new Promise<number>((resolve, reject) => {
        stream.on('status', (s: grpc.StatusObject) => resolve(s.code));
        stream.on('error', reject);
      });
      for (let i = 0; i < 3; i++) stream.write(slowRequest(1024, `s${i}`));
      // Stop once the server holds all three (some may already be answered).
      await until(() => pendingRequests(own.server, 'slow_mlp') + responses.length === 3 && responses.length < 3, 5000, 'the requests to arrive');
      await own.server.stop();
      expect(await ended).toBe(status.OK);
      expect(responses.map((r) => [r.infer_response.id, r.error_message])).toEqual([
        ['s0', ''],
        ['s1', ''],
        ['s2', ''],
      ]);
    } finally {
      ownClient.close();
      await own.server.stop();
    }
  });
});
