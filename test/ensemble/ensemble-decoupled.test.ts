/**
 * Ensembles with a decoupled step (Triton's repeat_int32): each response of the step goes
 * on through the steps after it, and the ensemble, decoupled itself, answers its client
 * once per response over gRPC ModelStreamInfer and HTTP generate_stream, then sends the
 * final flag. Unary calls get Triton's refusal; topologies whose later steps would need
 * to pair the step's responses with a parallel branch are refused at load, naming them.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEnsemble } from '../helpers/ensemble-models.js';
import { grpc, InferenceClient, rawBytes, type Message } from '../helpers/grpc-client.js';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

/** Y = X + 10, one INT32 value, answering each request once. */
const ADD_TEN = `export function execute(requests) {
  return requests.map((request) => ({ outputs: { Y: { shape: [1], data: Int32Array.of(request.inputs.X.data[0] + 10) } } }));
}
`;
const ADD_TEN_CONFIG = `backend: "javascript"
max_batch_size: 0
input [{ name: "X", data_type: TYPE_INT32, dims: [ 1 ] }]
output [{ name: "Y", data_type: TYPE_INT32, dims: [ 1 ] }]
`;

const REPEAT_INPUTS = [
  { name: 'IN', type: 'TYPE_INT32', dims: [-1] },
  { name: 'DELAY', type: 'TYPE_UINT32', dims: [-1] },
  { name: 'WAIT', type: 'TYPE_UINT32', dims: [1] },
];
const REPEAT_STEP = { model: 'repeat_int32', inputs: { IN: 'IN', DELAY: 'DELAY', WAIT: 'WAIT' }, outputs: { OUT: 'repeated', IDX: 'IDX' } };

beforeAll(async () => {
  cpSync(join(EXAMPLE_REPOSITORY, 'repeat_int32'), join(repo.root, 'repeat_int32'), { recursive: true });
  addJavaScriptModel(repo.root, 'add_ten', ADD_TEN_CONFIG, { source: ADD_TEN });
  // repeat_int32, then add_ten on every response.
  addEnsemble(repo.root, 'repeat_then_add', {
    maxBatchSize: 0,
    inputs: REPEAT_INPUTS,
    outputs: [
      { name: 'RESULT', type: 'TYPE_INT32', dims: [1] },
      { name: 'IDX', type: 'TYPE_UINT32', dims: [1] },
    ],
    steps: [REPEAT_STEP, { model: 'add_ten', inputs: { X: 'repeated' }, outputs: { Y: 'RESULT' } }],
  });
  // add_ten runs once, before the decoupled step: every response carries its result too.
  addEnsemble(repo.root, 'add_then_repeat', {
    maxBatchSize: 0,
    inputs: [
      { name: 'FIRST', type: 'TYPE_INT32', dims: [1] },
      { name: 'DELAY', type: 'TYPE_UINT32', dims: [-1] },
      { name: 'WAIT', type: 'TYPE_UINT32', dims: [1] },
    ],
    outputs: [
      { name: 'OFFSET', type: 'TYPE_INT32', dims: [1] },
      { name: 'REPEATED', type: 'TYPE_INT32', dims: [1] },
    ],
    steps: [
      { model: 'add_ten', inputs: { X: 'FIRST' }, outputs: { Y: 'OFFSET' } },
      { model: 'repeat_int32', inputs: { IN: 'OFFSET', DELAY: 'DELAY', WAIT: 'WAIT' }, outputs: { OUT: 'REPEATED' } },
    ],
  });
  // An ensemble output from a branch parallel to the decoupled step: refused.
  addEnsemble(repo.root, 'parallel_output', {
    maxBatchSize: 0,
    inputs: [...REPEAT_INPUTS, { name: 'FIRST', type: 'TYPE_INT32', dims: [1] }],
    outputs: [
      { name: 'OFFSET', type: 'TYPE_INT32', dims: [1] },
      { name: 'REPEATED', type: 'TYPE_INT32', dims: [1] },
    ],
    steps: [
      { model: 'add_ten', inputs: { X: 'FIRST' }, outputs: { Y: 'OFFSET' } },
      { model: 'repeat_int32', inputs: { IN: 'IN', DELAY: 'DELAY', WAIT: 'WAIT' }, outputs: { OUT: 'REPEATED' } },
    ],
  });
  // A step after the decoupled one that also reads a parallel branch's tensor: refused.
  addEnsemble(repo.root, 'parallel_pairing', {
    maxBatchSize: 0,
    inputs: [...REPEAT_INPUTS, { name: 'FIRST', type: 'TYPE_INT32', dims: [1] }],
    outputs: [{ name: 'RESULT', type: 'TYPE_INT32', dims: [1] }],
    steps: [
      { model: 'repeat_int32', inputs: { IN: 'IN', DELAY: 'DELAY', WAIT: 'WAIT' }, outputs: { OUT: 'repeated' } },
      { model: 'add_ten', inputs: { X: 'FIRST' }, outputs: { Y: 'side' } },
      { model: 'repeat_int32', inputs: { IN: 'repeated', DELAY: 'side', WAIT: 'WAIT' }, outputs: { OUT: 'RESULT' } },
    ],
  });
  t = await startTestServer({ modelRepositories: [repo.root] });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
});

function request(model: string, values: number[], extra: Message[] = [], extraRaw: Buffer[] = [], id = ''): Message {
  return {
    model_name: model,
    id,
    inputs: [
      { name: 'IN', datatype: 'INT32', shape: [values.length] },
      { name: 'DELAY', datatype: 'UINT32', shape: [values.length] },
      { name: 'WAIT', datatype: 'UINT32', shape: [1] },
      ...extra,
    ],
    raw_input_contents: [rawBytes(Int32Array.from(values)), Buffer.from(new Uint32Array(values.length).buffer), Buffer.from(Uint32Array.of(0).buffer), ...extraRaw],
    parameters: { triton_enable_empty_final_response: { bool_param: true } },
  };
}

/** Writes the requests, half-closes, and collects every message until the stream's status. */
function exchange(requests: Message[]): Promise<{ messages: Message[]; code: number }> {
  const stream = client.stream();
  const messages: Message[] = [];
  stream.on('data', (m: Message) => messages.push(m));
  const done = new Promise<{ messages: Message[]; code: number }>((resolve, reject) => {
    stream.on('status', (s: grpc.StatusObject) => resolve({ messages, code: s.code }));
    stream.on('error', reject);
  });
  for (const r of requests) stream.write(r);
  stream.end();
  return done;
}

const finalFlag = (m: Message) => m.infer_response?.parameters?.triton_final_response?.bool_param;
const value = (m: Message, name: string): number => {
  const k = m.infer_response.outputs.findIndex((o: Message) => o.name === name);
  return m.infer_response.raw_output_contents[k].readInt32LE(0);
};

describe('an ensemble with a decoupled step', () => {
  it('is ready, and decoupled in its configuration', async () => {
    expect((await getJson(`${t.url}/v2/models/repeat_then_add/ready`)).status).toBe(200);
    const { json } = await getJson(`${t.url}/v2/models/repeat_then_add/config`);
    expect(json.model_transaction_policy).toEqual({ decoupled: true });
  });

  it('runs the steps after it on each response, and answers once per response, then the final flag (ModelStreamInfer)', async () => {
    const { messages, code } = await exchange([request('repeat_then_add', [4, 5, 6], [], [], 'r')]);
    expect(code).toBe(grpc.status.OK);
    expect(messages.map((m) => m.error_message)).toEqual(['', '', '', '']);
    const responses = messages.slice(0, 3);
    // The branches run concurrently: order by IDX.
    const byIndex = responses.map((m) => [value(m, 'IDX'), value(m, 'RESULT')]).sort((a, b) => a[0] - b[0]);
    expect(byIndex).toEqual([
      [0, 14],
      [1, 15],
      [2, 16],
    ]);
    for (const m of responses) {
      expect(finalFlag(m)).toBe(false);
      expect(m.infer_response).toMatchObject({ model_name: 'repeat_then_add', model_version: '1', id: 'r' });
    }
    expect(finalFlag(messages[3])).toBe(true);
    expect(messages[3].infer_response.outputs).toEqual([]);
  });

  it('keeps concurrent requests on one stream apart', async () => {
    const { messages } = await exchange([request('repeat_then_add', [1, 2], [], [], 'a'), request('repeat_then_add', [100], [], [], 'b')]);
    const of = (id: string) => messages.filter((m) => m.infer_response?.id === id && !finalFlag(m)).map((m) => value(m, 'RESULT')).sort((x, y) => x - y);
    expect(of('a')).toEqual([11, 12]);
    expect(of('b')).toEqual([110]);
    expect(messages.filter((m) => finalFlag(m))).toHaveLength(2);
  });

  it('gives every response what was computed before the decoupled step', async () => {
    const { messages, code } = await exchange([
      {
        model_name: 'add_then_repeat',
        inputs: [
          { name: 'FIRST', datatype: 'INT32', shape: [1] },
          { name: 'DELAY', datatype: 'UINT32', shape: [1] },
          { name: 'WAIT', datatype: 'UINT32', shape: [1] },
        ],
        raw_input_contents: [rawBytes(Int32Array.of(5)), Buffer.from(Uint32Array.of(0).buffer), Buffer.from(Uint32Array.of(0).buffer)],
      },
    ]);
    expect(code).toBe(grpc.status.OK);
    expect(messages.map((m) => m.error_message)).toEqual(['']);
    expect([value(messages[0], 'OFFSET'), value(messages[0], 'REPEATED')]).toEqual([15, 15]);
  });

  it('sends only the final flag when the decoupled step sends no response', async () => {
    const { messages, code } = await exchange([request('repeat_then_add', [])]);
    expect(code).toBe(grpc.status.OK);
    expect(messages).toHaveLength(1);
    expect(finalFlag(messages[0])).toBe(true);
  });

  it("answers a step's error with the error, naming the step", async () => {
    const bad = request('repeat_then_add', [1, 2]);
    bad.inputs[1].shape = [1];
    bad.raw_input_contents[1] = Buffer.from(Uint32Array.of(0).buffer);
    const { messages } = await exchange([bad]);
    const errors = messages.filter((m) => m.error_message !== '');
    expect(errors).toHaveLength(1);
    expect(errors[0].error_message).toContain("ensemble 'repeat_then_add' step 1 (model 'repeat_int32')");
    expect(errors[0].error_message).toContain('expected IN and DELAY shape to match');
  });

  it('streams over HTTP generate_stream, and /generate takes exactly one response', async () => {
    const response = await fetch(`${t.url}/v2/models/repeat_then_add/generate_stream`, { method: 'POST', body: JSON.stringify({ IN: [1, 2], DELAY: [0, 0], WAIT: 0 }) });
    expect(response.status).toBe(200);
    const events = (await response.text())
      .split('\n\n')
      .filter((chunk) => chunk !== '')
      .map((chunk) => JSON.parse(chunk.slice('data: '.length)));
    expect(events.map((e) => [e.IDX, e.RESULT]).sort((a, b) => a[0] - b[0])).toEqual([
      [0, 11],
      [1, 12],
    ]);
    expect(events[0].model_name).toBe('repeat_then_add');
    const one = await postJson(`${t.url}/v2/models/repeat_then_add/generate`, { IN: [3], DELAY: [0], WAIT: 0 });
    expect(one).toMatchObject({ status: 200, json: { RESULT: 13, IDX: 0 } });
    const many = await postJson(`${t.url}/v2/models/repeat_then_add/generate`, { IN: [3, 4], DELAY: [0, 0], WAIT: 0 });
    expect(many.status).toBe(400);
    expect(many.json.error).toContain('generate expects model to produce exactly 1 response');
  });

  it('stops answering a request its client cancelled, counts it as cancelled, and keeps serving', async () => {
    const pendingOf = (model: string) => t.server.registry.resolve(model).requestScheduler.pendingCount;
    const failures = async () => (await getJson(`${t.url}/v2/models/repeat_then_add/stats`)).json.model_stats[0].inference_stats.fail.count as number;
    const failuresBefore = await failures();
    const call = client.stream();
    const received: Message[] = [];
    const first = new Promise<void>((resolve) => call.once('data', () => resolve()));
    call.on('data', (m: Message) => received.push(m));
    const ended = new Promise<number>((resolve) => call.on('error', (err: grpc.ServiceError) => resolve(err.code)));
    const slow = request('repeat_then_add', [1, 2, 3]);
    slow.raw_input_contents[1] = Buffer.from(Uint32Array.of(0, 100, 100).buffer);
    call.write(slow);
    await first;
    call.cancel();
    expect(await ended).toBe(grpc.status.CANCELLED);
    const deadline = Date.now() + 5_000;
    while (pendingOf('repeat_int32') + pendingOf('add_ten') + pendingOf('repeat_then_add') > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(pendingOf('repeat_then_add')).toBe(0);
    expect(pendingOf('repeat_int32')).toBe(0);
    expect(received.length).toBeLessThan(3);
    expect(await failures()).toBe(failuresBefore + 1);
    const { messages } = await exchange([request('repeat_then_add', [2])]);
    expect(value(messages[0], 'RESULT')).toBe(12);
  });

  it("refuses unary calls with Triton's messages", async () => {
    const unary = await client.fail('ModelInfer', request('repeat_then_add', [1]));
    expect(unary.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(unary.details).toBe("ModelInfer RPC doesn't support models with decoupled transaction policy");
    const http = await postJson(`${t.url}/v2/models/repeat_then_add/infer`, {
      inputs: [
        { name: 'IN', datatype: 'INT32', shape: [1], data: [1] },
        { name: 'DELAY', datatype: 'UINT32', shape: [1], data: [0] },
        { name: 'WAIT', datatype: 'UINT32', shape: [1], data: [0] },
      ],
    });
    expect(http).toEqual({ status: 501, json: { error: "HTTP end point doesn't support models with decoupled transaction policy" } });
  });

  it('refuses at load a later step that would pair its responses with a parallel branch, naming both', async () => {
    const { status, json } = await getJson(`${t.url}/v2/models/parallel_pairing/ready`);
    expect(status).toBe(400);
    expect(json.error).toContain("step 1 (model 'repeat_int32') is decoupled");
    expect(json.error).toContain("step 3 (model 'repeat_int32')");
    expect(json.error).toContain("tensor 'side'");
    expect(json.error).toContain("step 2 (model 'add_ten')");
    const output = await getJson(`${t.url}/v2/models/parallel_output/ready`);
    expect(output.status).toBe(400);
    expect(output.json.error).toContain("ensemble output 'OFFSET' comes from step 1 (model 'add_ten'), a parallel branch");
  });
});
