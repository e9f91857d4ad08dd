/**
 * Decoupled models (model_transaction_policy { decoupled: true }): any number of responses
 * per request over gRPC ModelStreamInfer, with Triton's `triton_final_response` flag, and
 * Triton's refusals over unary ModelInfer and HTTP. Triton's repeat_int32 example model runs
 * as the bundled JavaScript model.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addEnsemble } from '../helpers/ensemble-models.js';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { sampleValue, scrape } from '../helpers/prometheus-text.js';
import { pendingRequests, until } from '../helpers/slow-model.js';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/index.js';
import { grpc, InferenceClient, int32sOf, rawBytes, type Message } from '../helpers/grpc-client.js';
import { addModel, EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

/** A decoupled JavaScript model: one INT32 input IN, one INT32 output OUT of one value. */
function decoupledConfig(extra = '', maxBatchSize = 0): string {
  const dims = maxBatchSize > 0 ? '[ 1 ]' : '[ -1 ]';
  return `backend: "javascript"
max_batch_size: ${maxBatchSize}
model_transaction_policy { decoupled: true }
input [{ name: "IN", data_type: TYPE_INT32, dims: ${dims} }]
output [{ name: "OUT", data_type: TYPE_INT32, dims: [ 1 ] }]
${extra}`;
}

const out = (value: number, rows?: number) => ({ outputs: { OUT: { shape: rows === undefined ? [1] : [rows, 1], data: Int32Array.of(value) } } });

/** Misbehaviours, chosen by IN[0]: each one a mistake a model author can make. */
const FAULTY_SOURCE = `
const out = (v) => ({ outputs: { OUT: { shape: [1], data: Int32Array.of(v) } } });
export async function execute(requests) {
  const [request] = requests;
  const sender = request.responseSender;
  const mode = request.inputs.IN.data[0];
  if (mode === 1) {
    // a response, an error that does not end the request, another response, the final flag
    sender.send(out(10));
    sender.send({ error: 'transient trouble' });
    sender.send(out(11));
    sender.send(undefined, { final: true });
  } else if (mode === 2) {
    sender.send(out(20));
    throw new Error('broke after one response');
  } else if (mode === 3) {
    return [out(30)];
  } else if (mode === 4) {
    sender.send({ outputs: { WRONG: { shape: [1], data: [1] } } });
    sender.send(out(40), { final: true });
  } else if (mode === 6) {
    sender.send(out(60), { final: true });
    try { sender.send(undefined, { final: true }); } catch {}
  } else if (mode === 8) {
    // ends the request from a timer after execute() returned, then the worker dies with requests still open
    setTimeout(() => sender.send(out(80)), 1);
    setTimeout(() => process.exit(3), 50);
  }
}
`;

/** Reports whether the previous request's second send() after its final one was refused, as a response. */
const MISUSE_REPORTER = `
let refusal = '';
export async function execute(requests) {
  const sender = requests[0].responseSender;
  if (requests[0].inputs.IN.data[0] === 0) {
    sender.send({ outputs: { OUT: { shape: [1], data: Int32Array.of(1) } } }, { final: true });
    try { sender.send({ outputs: { OUT: { shape: [1], data: Int32Array.of(2) } } }); } catch (err) { refusal = err.message; }
  } else {
    sender.send({ error: 'refusal: ' + refusal }, { final: true });
  }
}
`;

/** Answers each request of a batch with one response per row, carrying the batch's request count. */
const BATCH_ECHO = `
export async function execute(requests) {
  for (const request of requests) {
    const rows = request.inputs.IN.shape[0];
    for (let r = 0; r < rows; r++) {
      request.responseSender.send({ outputs: { OUT: { shape: [1, 1], data: Int32Array.of(request.inputs.IN.data[r] * 100 + requests.length) } } });
    }
    request.responseSender.send(undefined, { final: true });
  }
}
`;

/** A model that is not decoupled and calls repeat_int32 through business logic scripting, answering with the error it gets. */
const CALLER = `
export async function execute(requests, context) {
  const answers = [];
  for (const request of requests) {
    try {
      await context.infer({ model: 'repeat_int32', inputs: { IN: request.inputs.IN, DELAY: { datatype: 'UINT32', shape: [1], data: [0] }, WAIT: { datatype: 'UINT32', shape: [1], data: [0] } } });
      answers.push({ error: 'the call was not refused' });
    } catch (err) {
      answers.push({ error: 'call refused: ' + err.code + ': ' + err.message });
    }
  }
  return answers;
}
`;

/** Sends one response at once, and its final one once the file named by the request's parameter `gate` exists. */
const GATED = `
import { existsSync } from 'node:fs';
const out = (v) => ({ outputs: { OUT: { shape: [1], data: Int32Array.of(v) } } });
export async function execute(requests) {
  for (const request of requests) {
    request.responseSender.send(out(1));
    const timer = setInterval(() => {
      if (!existsSync(request.parameters.gate)) return;
      clearInterval(timer);
      request.responseSender.send(out(2), { final: true });
    }, 5);
  }
}
`;

beforeAll(async () => {
  cpSync(join(EXAMPLE_REPOSITORY, 'repeat_int32'), join(repo.root, 'repeat_int32'), { recursive: true });
  addJavaScriptModel(repo.root, 'gated', decoupledConfig(), { source: GATED });
  addJavaScriptModel(repo.root, 'faulty', decoupledConfig(), { source: FAULTY_SOURCE });
  addJavaScriptModel(repo.root, 'misuse', decoupledConfig(), { source: MISUSE_REPORTER });
  // The batch is sent when full (5 rows), long before its delay: the test's 4 requests make one batch.
  addJavaScriptModel(repo.root, 'batch_echo', decoupledConfig('dynamic_batching { max_queue_delay_microseconds: 60000000 }', 5), { source: BATCH_ECHO });
  const addSub = readFileSync(join(EXAMPLE_REPOSITORY, 'add_sub', 'config.pbtxt'), 'utf8');
  addModel(repo.root, 'add_sub', { from: 'add_sub', config: addSub });
  addModel(repo.root, 'add_sub_decoupled', {
    from: 'add_sub',
    config: `${addSub.replace('name: "add_sub"', 'name: "add_sub_decoupled"')}\nmodel_transaction_policy { decoupled: true }\n`,
  });
  addJavaScriptModel(repo.root, 'caller', decoupledConfig().replace('model_transaction_policy { decoupled: true }', ''), { source: CALLER });
  addJavaScriptModel(repo.root, 'cached_repeat', decoupledConfig('response_cache { enable: true }'), { source: FAULTY_SOURCE });
  addEnsemble(repo.root, 'repeat_ensemble', {
    maxBatchSize: 0,
    inputs: [
      { name: 'IN', type: 'TYPE_INT32', dims: [-1] },
      { name: 'DELAY', type: 'TYPE_UINT32', dims: [-1] },
      { name: 'WAIT', type: 'TYPE_UINT32', dims: [1] },
    ],
    outputs: [{ name: 'OUT', type: 'TYPE_INT32', dims: [1] }],
    steps: [{ model: 'repeat_int32', inputs: { IN: 'IN', DELAY: 'DELAY', WAIT: 'WAIT' }, outputs: { OUT: 'OUT' } }],
  });
  t = await startTestServer({
    modelRepositories: [repo.root],
    responseCacheBytes: 1 << 20,
    metricsConfig: { ...DEFAULT_METRICS_CONFIG, histogramLatencies: true },
  });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t.server.stop();
  repo.cleanup();
});

interface RepeatRequest {
  id?: string;
  values: number[];
  delays?: number[];
  wait?: number;
  emptyFinal?: boolean;
}

function repeatRequest({ id = '', values, delays = values.map(() => 1), wait = 0, emptyFinal }: RepeatRequest): Message {
  const request: Message = {
    model_name: 'repeat_int32',
    id,
    inputs: [
      { name: 'IN', datatype: 'INT32', shape: [values.length] },
      { name: 'DELAY', datatype: 'UINT32', shape: [delays.length] },
      { name: 'WAIT', datatype: 'UINT32', shape: [1] },
    ],
    raw_input_contents: [rawBytes(Int32Array.from(values)), Buffer.from(Uint32Array.from(delays).buffer), Buffer.from(Uint32Array.of(wait).buffer)],
  };
  if (emptyFinal !== undefined) request.parameters = { triton_enable_empty_final_response: { bool_param: emptyFinal } };
  return request;
}

function intRequest(model: string, values: number[], id = '', shape = [values.length]): Message {
  return { model_name: model, id, inputs: [{ name: 'IN', datatype: 'INT32', shape }], raw_input_contents: [rawBytes(Int32Array.from(values))] };
}

/** Writes every request, half-closes, and collects every message until the stream's status. */
function exchange(requests: Message[], stream = client.stream()): Promise<{ responses: Message[]; code: number }> {
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

const finalFlag = (m: Message) => m.infer_response?.parameters?.triton_final_response?.bool_param;
const outputValue = (m: Message, name: string, unsigned = false): number => {
  const index = m.infer_response.outputs.findIndex((o: Message) => o.name === name);
  const bytes: Buffer = m.infer_response.raw_output_contents[index];
  return unsigned ? bytes.readUInt32LE(0) : bytes.readInt32LE(0);
};
const ofRequest = (responses: Message[], id: string) => responses.filter((m) => m.infer_response?.id === id);

describe('repeat_int32 over ModelStreamInfer', () => {
  it('sends one response per element of IN, in order, none of them final, then the empty final response when asked', async () => {
    const { responses, code } = await exchange([repeatRequest({ id: 'r', values: [4, 2, 0, 1], emptyFinal: true })]);
    expect(code).toBe(grpc.status.OK);
    expect(responses).toHaveLength(5);
    const [first, second, third, fourth, last] = responses;
    expect([first, second, third, fourth].map((m) => outputValue(m, 'OUT'))).toEqual([4, 2, 0, 1]);
    expect([first, second, third, fourth].map((m) => outputValue(m, 'IDX', true))).toEqual([0, 1, 2, 3]);
    for (const m of [first, second, third, fourth]) {
      expect(m.error_message).toBe('');
      expect(finalFlag(m)).toBe(false);
      expect(m.infer_response).toMatchObject({ model_name: 'repeat_int32', model_version: '1', id: 'r' });
      expect(m.infer_response.outputs.map((o: Message) => [o.name, o.datatype, o.shape])).toEqual([
        ['OUT', 'INT32', [1]],
        ['IDX', 'UINT32', [1]],
      ]);
    }
    expect(last.error_message).toBe('');
    expect(last.infer_response).toMatchObject({ model_name: 'repeat_int32', id: 'r', outputs: [], raw_output_contents: [] });
    expect(finalFlag(last)).toBe(true);
  });

  it('without triton_enable_empty_final_response sends the responses only, and the stream still completes', async () => {
    for (const emptyFinal of [undefined, false]) {
      const { responses, code } = await exchange([repeatRequest({ id: 'q', values: [7, 8], emptyFinal })]);
      expect(code).toBe(grpc.status.OK);
      expect(responses.map((m) => [outputValue(m, 'OUT'), finalFlag(m)])).toEqual([
        [7, false],
        [8, false],
      ]);
    }
  });

  it('answers an empty IN with no response at all, or with only the empty final response when asked', async () => {
    const silent = await exchange([repeatRequest({ id: 'none', values: [] })]);
    expect(silent).toEqual({ responses: [], code: grpc.status.OK });
    const flagged = await exchange([repeatRequest({ id: 'none', values: [], emptyFinal: true })]);
    expect(flagged.responses).toHaveLength(1);
    expect(flagged.responses[0].infer_response).toMatchObject({ id: 'none', outputs: [] });
    expect(finalFlag(flagged.responses[0])).toBe(true);
  });

  it('refuses IN and DELAY of different shapes with one final error, as the repeat backend does, and the stream goes on', async () => {
    const { responses, code } = await exchange([
      repeatRequest({ id: 'bad', values: [4, 2, 0, 1], delays: [2], emptyFinal: true }),
      repeatRequest({ id: 'good', values: [5], emptyFinal: true }),
    ]);
    expect(code).toBe(grpc.status.OK);
    const [bad] = ofRequest(responses, 'bad');
    expect(ofRequest(responses, 'bad')).toHaveLength(1);
    expect(bad.error_message).toContain('expected IN and DELAY shape to match, got [4] and [1]');
    expect(finalFlag(bad)).toBe(true);
    expect(ofRequest(responses, 'good').map((m) => [m.error_message, finalFlag(m)])).toEqual([
      ['', false],
      ['', true],
    ]);
  });

  it('keeps each request’s responses in order when requests of one stream interleave on one instance', async () => {
    // WAIT 0: execute() returns at once, so the instance takes the next request while the first still sends.
    const requests = ['a', 'b', 'c'].map((id, k) => repeatRequest({ id, values: [k * 10, k * 10 + 1, k * 10 + 2, k * 10 + 3], delays: [3, 3, 3, 3], emptyFinal: true }));
    const { responses, code } = await exchange(requests);
    expect(code).toBe(grpc.status.OK);
    ['a', 'b', 'c'].forEach((id, k) => {
      const own = ofRequest(responses, id);
      expect(own.slice(0, 4).map((m) => outputValue(m, 'OUT'))).toEqual([k * 10, k * 10 + 1, k * 10 + 2, k * 10 + 3]);
      expect(own.map(finalFlag)).toEqual([false, false, false, false, true]);
    });
  });

  it('serves many concurrent streams without mixing their responses', async () => {
    const streams = Array.from({ length: 12 }, (_, s) =>
      exchange(Array.from({ length: 3 }, (_, r) => repeatRequest({ id: `${s}-${r}`, values: Array.from({ length: 1 + ((s + r) % 4) }, (_, i) => s * 1000 + r * 100 + i), emptyFinal: true }))),
    );
    const results = await Promise.all(streams);
    results.forEach(({ responses, code }, s) => {
      expect(code).toBe(grpc.status.OK);
      for (let r = 0; r < 3; r++) {
        const n = 1 + ((s + r) % 4);
        const own = ofRequest(responses, `${s}-${r}`);
        expect(own.slice(0, n).map((m) => outputValue(m, 'OUT'))).toEqual(Array.from({ length: n }, (_, i) => s * 1000 + r * 100 + i));
        expect(own.map(finalFlag)).toEqual([...Array(n).fill(false), true]);
      }
      expect(responses).toHaveLength([0, 1, 2].reduce((sum, r) => sum + 2 + ((s + r) % 4), 0));
    });
  });

  it('refuses a triton_enable_empty_final_response that is not a bool, naming the parameter', async () => {
    const request = repeatRequest({ id: 'p', values: [1] });
    request.parameters = { triton_enable_empty_final_response: { int64_param: 1 } };
    const { responses } = await exchange([request]);
    expect(responses).toHaveLength(1);
    expect(responses[0].error_message).toBe("invalid value type for 'triton_enable_empty_final_response' parameter, expected bool_param.");
  });
});

describe('decoupled models over unary endpoints', () => {
  it('refuses ModelInfer with Triton’s status and message', async () => {
    const err = await client.fail('ModelInfer', repeatRequest({ values: [1] }));
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(err.details).toBe("ModelInfer RPC doesn't support models with decoupled transaction policy");
    // Refused before its inputs are looked at: here they have no data at all.
    const empty = await client.fail('ModelInfer', { model_name: 'repeat_int32', inputs: [{ name: 'IN', datatype: 'INT32', shape: [3] }] });
    expect([empty.code, empty.details]).toEqual([grpc.status.UNIMPLEMENTED, "ModelInfer RPC doesn't support models with decoupled transaction policy"]);
    // An unknown model is still answered as one.
    const unknown = await client.fail('ModelInfer', { ...repeatRequest({ values: [1] }), model_name: 'no_such_model' });
    expect(unknown.details).toBe("Request for unknown model: 'no_such_model' is not found");
  });

  it('refuses HTTP infer with Triton’s status and message', async () => {
    const { status, json } = await postJson(`${t.url}/v2/models/repeat_int32/infer`, {
      inputs: [
        { name: 'IN', datatype: 'INT32', shape: [1], data: [1] },
        { name: 'DELAY', datatype: 'UINT32', shape: [1], data: [0] },
        { name: 'WAIT', datatype: 'UINT32', shape: [1], data: [0] },
      ],
    });
    expect(status).toBe(501);
    expect(json.error).toBe("HTTP end point doesn't support models with decoupled transaction policy");
    // Refused before the body is read, as in Triton: even a body that is not JSON.
    const garbled = await postJson(`${t.url}/v2/models/repeat_int32/infer`, '{not json');
    expect(garbled).toEqual({ status: 501, json: { error: "HTTP end point doesn't support models with decoupled transaction policy" } });
  });

  it('still serves models that are not decoupled over the stream, their one response flagged final', async () => {
    const a = Array.from({ length: 16 }, (_, i) => i);
    const request = {
      model_name: 'add_sub',
      id: 'plain',
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1, 16] },
        { name: 'INPUT1', datatype: 'FP32', shape: [1, 16] },
      ],
      raw_input_contents: [Buffer.from(Float32Array.from(a).buffer), Buffer.from(Float32Array.from(a).buffer)],
    };
    const { responses } = await exchange([request, { ...request, model_name: 'add_sub_decoupled', id: 'onnx-decoupled' }]);
    const plain = ofRequest(responses, 'plain');
    expect(plain).toHaveLength(1);
    expect(plain[0].error_message).toBe('');
    expect(finalFlag(plain[0])).toBe(true);
    const onnx = ofRequest(responses, 'onnx-decoupled');
    expect(onnx).toHaveLength(1);
    expect(onnx[0].error_message).toBe('');
    expect(finalFlag(onnx[0])).toBe(true);
  });
});

describe('a decoupled JavaScript model that misbehaves', () => {
  it('passes on an error that does not end the request, and the responses after it', async () => {
    const { responses } = await exchange([intRequest('faulty', [1], 'm1')]);
    expect(responses.map((m) => [m.error_message === '' ? outputValue(m, 'OUT') : m.error_message, finalFlag(m)])).toEqual([
      [10, false],
      ["model 'faulty' version 1 failed: transient trouble", false],
      [11, false],
    ]);
  });

  it('ends a request whose execute() throws after a response with a final error, and the stream serves the next request', async () => {
    const { responses, code } = await exchange([intRequest('faulty', [2], 'm2'), intRequest('faulty', [6], 'm6')]);
    expect(code).toBe(grpc.status.OK);
    const m2 = ofRequest(responses, 'm2');
    expect(m2.map((m) => m.error_message)).toEqual(['', expect.stringContaining('model.js execute() failed: broke after one response')]);
    expect(m2.map(finalFlag)).toEqual([false, true]);
    // A second final flag after the first is refused by the sender: one final response only.
    const m6 = ofRequest(responses, 'm6');
    expect(m6.map((m) => [outputValue(m, 'OUT'), finalFlag(m)])).toEqual([[60, true]]);
  });

  it('fails a request whose execute() returns responses instead of sending them, saying how to send them', async () => {
    const { responses } = await exchange([intRequest('faulty', [3], 'm3')]);
    expect(responses).toHaveLength(1);
    expect(responses[0].error_message).toContain('must send responses with request.responseSender.send() and return nothing');
    expect(finalFlag(responses[0])).toBe(true);
  });

  it('turns a response that does not fit the configuration into an error naming the output, and goes on', async () => {
    const { responses } = await exchange([intRequest('faulty', [4], 'm4')]);
    expect(responses.map((m) => [m.error_message === '' ? outputValue(m, 'OUT') : m.error_message, finalFlag(m)])).toEqual([
      [expect.stringContaining("no output 'OUT', which the request asked for"), false],
      [40, true],
    ]);
  });

  it('refuses a send() after the final response inside the model', async () => {
    const { responses } = await exchange([intRequest('misuse', [0], 'first'), intRequest('misuse', [1], 'second')]);
    expect(ofRequest(responses, 'first').map((m) => [outputValue(m, 'OUT'), finalFlag(m)])).toEqual([[1, true]]);
    const [report] = ofRequest(responses, 'second');
    expect(report.error_message).toContain('refusal: request 0 of this execution has already had its final response');
  });

  it('ends the requests still open with an error when the instance dies after execute() returned', async () => {
    const { responses, code } = await exchange([intRequest('faulty', [8], 'm8')]);
    expect(code).toBe(grpc.status.OK);
    const own = ofRequest(responses, 'm8');
    expect(own.length).toBeGreaterThanOrEqual(1);
    const last = own[own.length - 1];
    expect(last.error_message).toMatch(/exited unexpectedly/);
    expect(finalFlag(last)).toBe(true);
    // The instance is restarted and serves again.
    let answered: Message[] = [];
    for (let attempt = 0; attempt < 100 && answered.length === 0; attempt++) {
      answered = (await exchange([intRequest('faulty', [6], 'again')])).responses.filter((m) => m.error_message === '');
      if (answered.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(answered.map((m) => outputValue(m, 'OUT'))).toEqual([60]);
  });
});

describe('decoupled models with dynamic batching', () => {
  it('gives each request of a batch its own responses, one per row', async () => {
    const stream = client.stream();
    const requests = [0, 1, 2, 3].map((k) => intRequest('batch_echo', k === 3 ? [3, 4] : [k], `b${k}`, k === 3 ? [2, 1] : [1, 1]));
    const { responses, code } = await exchange(requests, stream);
    expect(code).toBe(grpc.status.OK);
    for (const k of [0, 1, 2, 3]) {
      const own = ofRequest(responses, `b${k}`);
      const rows = k === 3 ? [3, 4] : [k];
      expect(own).toHaveLength(rows.length);
      own.forEach((m, r) => {
        expect(m.infer_response.outputs[0].shape).toEqual([1, 1]);
        expect(Math.floor(int32sOf(m.infer_response.raw_output_contents[0])[0] / 100)).toBe(rows[r]);
        expect(finalFlag(m)).toBe(false);
      });
    }
    // Every answer came from the one batch of all four requests.
    expect(responses.map((m) => int32sOf(m.infer_response.raw_output_contents[0])[0] % 100)).toEqual(Array(5).fill(4));
  });
});

describe('decoupled models and the rest of the server', () => {
  it('shows the transaction policy in the model configuration', async () => {
    const { status, json } = await getJson(`${t.url}/v2/models/repeat_int32/config`);
    expect(status).toBe(200);
    expect(json.model_transaction_policy).toEqual({ decoupled: true });
  });

  it('refuses a business-logic call to a decoupled model with a message that says why', async () => {
    const { status, json } = await postJson(`${t.url}/v2/models/caller/infer`, { inputs: [{ name: 'IN', datatype: 'INT32', shape: [1], data: [1] }] });
    expect(status).toBe(500);
    expect(json.error).toContain("call refused: UNSUPPORTED: model 'repeat_int32' version 1 is decoupled");
  });

  it('serves an ensemble with a decoupled step as a decoupled model (test/ensemble/ensemble-decoupled.test.ts has the details)', async () => {
    expect((await getJson(`${t.url}/v2/models/repeat_ensemble/ready`)).status).toBe(200);
    const { responses, code } = await exchange([{ ...repeatRequest({ id: 'e', values: [3, 4] }), model_name: 'repeat_ensemble' }]);
    expect(code).toBe(grpc.status.OK);
    expect(responses.map((m) => outputValue(m, 'OUT')).sort()).toEqual([3, 4]);
  });

  it('serves a decoupled model with response_cache enabled uncached: the model runs for every request', async () => {
    for (let round = 0; round < 2; round++) {
      const { responses } = await exchange([intRequest('cached_repeat', [1], `c${round}`)]);
      expect(responses.map((m) => (m.error_message === '' ? outputValue(m, 'OUT') : m.error_message))).toEqual([10, "model 'cached_repeat' version 1 failed: transient trouble", 11]);
    }
    const { json } = await getJson(`${t.url}/v2/models/cached_repeat/stats`);
    expect(json.model_stats[0].inference_stats.cache_hit.count).toBe(0);
    expect(json.model_stats[0].execution_count).toBe(2);
  });
});

describe('metrics of a decoupled model', () => {
  it('times the first response, not the whole request, in nv_inference_first_response_histogram_ms', async () => {
    const gate = join(repo.root, 'first-response-gate');
    const stream = client.stream();
    const first = new Promise<void>((resolve) => stream.once('data', () => resolve()));
    const exchanged = exchange([{ ...intRequest('gated', [0], 'g'), parameters: { gate: { string_param: gate } } }], stream);
    // The server timed the first response before sending it; the final one comes only after the gate opens, 300 ms later at least.
    await first;
    await new Promise((resolve) => setTimeout(resolve, 300));
    writeFileSync(gate, '');
    const { responses } = await exchanged;
    expect(responses.map(finalFlag)).toEqual([false, true]);
    const metrics = await scrape(t.metricsUrl);
    const labels = { model: 'gated', version: '1' };
    expect(sampleValue(metrics, 'nv_inference_request_success', labels)).toBe(1);
    expect(sampleValue(metrics, 'nv_inference_first_response_histogram_ms_count', labels)).toBe(1);
    const firstMs = sampleValue(metrics, 'nv_inference_first_response_histogram_ms_sum', labels);
    const requestMs = sampleValue(metrics, 'nv_inference_request_duration_us', labels) / 1000;
    expect(requestMs - firstMs).toBeGreaterThanOrEqual(299);
  });
});

describe('a client that goes away', () => {
  it('leaves nothing pending once the model has finished the requests of a cancelled stream', async () => {
    const stream = client.stream();
    stream.on('error', () => undefined);
    const firstResponse = new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.write(repeatRequest({ id: 'gone', values: [1, 2, 3, 4], delays: [0, 30, 30, 30] }));
    await firstResponse;
    stream.cancel();
    await until(() => pendingRequests(t.server, 'repeat_int32') === 0, 10_000, 'the cancelled request to finish');
    const { responses, code } = await exchange([repeatRequest({ id: 'after', values: [9], emptyFinal: true })]);
    expect(code).toBe(grpc.status.OK);
    expect(responses.map((m) => [m.error_message, finalFlag(m)])).toEqual([
      ['', false],
      ['', true],
    ]);
  });
});

describe('unloading a decoupled model', () => {
  it('waits for the requests it is still answering, which get every response and their final flag', async () => {
    const own = await startTestServer({ modelRepositories: [EXAMPLE_REPOSITORY], modelControlMode: 'explicit', loadModels: ['repeat_int32'] });
    const ownClient = new InferenceClient(own.grpcTarget);
    try {
      const stream = ownClient.stream();
      const firstResponse = new Promise<void>((resolve) => stream.once('data', () => resolve()));
      const exchanged = exchange([repeatRequest({ id: 'u', values: [1, 2, 3], delays: [0, 100, 100], emptyFinal: true })], stream);
      await firstResponse;
      const unloaded = postJson(`${own.url}/v2/repository/models/repeat_int32/unload`, {});
      const { responses, code } = await exchanged;
      expect(code).toBe(grpc.status.OK);
      expect(responses.map(finalFlag)).toEqual([false, false, false, true]);
      expect(responses.slice(0, 3).map((m) => outputValue(m, 'OUT'))).toEqual([1, 2, 3]);
      expect((await unloaded).status).toBe(200);
      const { status } = await getJson(`${own.url}/v2/models/repeat_int32/ready`);
      expect(status).toBe(400);
    } finally {
      ownClient.close();
      await own.server.stop();
    }
  });
});
