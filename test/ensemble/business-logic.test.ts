/** Business logic scripting: a JavaScript model calls other models of the server with infer(). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { addModel, EXAMPLE_REPOSITORY, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

// Sends its inputs to `target` (add_sub by default) and answers with the target's OUTPUT0.
// `fanout: N` makes N calls at once; `bad_shape` sends a wrong INPUT1; `malformed` calls
// infer() without a model; `rethrow` lets the call's error fail execute() itself.
const CALLER = `
export async function execute(requests, { infer }) {
  return Promise.all(requests.map(async ({ inputs, parameters }) => {
    const target = parameters.target ?? 'add_sub';
    const request = {
      model: target,
      inputs: {
        INPUT0: inputs.INPUT0,
        INPUT1: parameters.bad_shape ? { datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] } : inputs.INPUT1,
      },
      outputs: ['OUTPUT0'],
      id: 'from-caller',
    };
    try {
      const answers = await Promise.all(Array.from({ length: parameters.fanout ?? 1 }, () => infer(parameters.malformed ? {} : request)));
      if (answers.some((a) => a.id !== 'from-caller' || a.model !== target)) return { error: 'answer without the request id or model' };
      return { outputs: { OUTPUT0: answers[0].outputs.OUTPUT0 } };
    } catch (err) {
      if (parameters.rethrow) throw err;
      return { error: target + ' said (' + err.code + '): ' + err.message };
    }
  }));
}
`;

const CALLER_CONFIG = `backend: "javascript"
max_batch_size: 16
input [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ 16 ] }, { name: "INPUT1", data_type: TYPE_FP32, dims: [ 16 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 16 ] }]
instance_group [{ count: 1, kind: KIND_CPU }]
`;

// A JavaScript model calling another one with strings, leaving the datatype to be inferred.
const GREETER = `
const decoder = new TextDecoder();
export async function execute(requests, { infer }) {
  return Promise.all(requests.map(async ({ inputs }) => {
    const names = inputs.NAME.data.map((bytes) => 'hello ' + decoder.decode(bytes));
    const { outputs } = await infer({ model: 'shout', inputs: [{ name: 'TEXT', shape: [names.length], data: names }] });
    return { outputs: { GREETING: { shape: outputs.LOUD.shape, data: outputs.LOUD.data } } };
  }));
}
`;
const SHOUT = `
const decoder = new TextDecoder();
export function execute(requests) {
  return requests.map(({ inputs }) => ({ outputs: { LOUD: { shape: inputs.TEXT.shape, data: inputs.TEXT.data.map((b) => decoder.decode(b).toUpperCase() + '!') } } }));
}
`;
const stringsConfig = (input: string, output: string) => `backend: "javascript"
max_batch_size: 0
input [{ name: "${input}", data_type: TYPE_STRING, dims: [ -1 ] }]
output [{ name: "${output}", data_type: TYPE_STRING, dims: [ -1 ] }]
instance_group [{ count: 1, kind: KIND_CPU }]
`;

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  // A batch forms as soon as 8 calls queue, so that a fan-out of 8 is one execution.
  const addSubConfig = readFileSync(join(EXAMPLE_REPOSITORY, 'add_sub', 'config.pbtxt'), 'utf8') + 'dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 100000 }\n';
  addModel(repo.root, 'add_sub', { from: 'add_sub', config: addSubConfig });
  addModel(repo.root, 'identity_fp32', { from: 'identity_fp32', config: readFileSync(join(EXAMPLE_REPOSITORY, 'identity_fp32', 'config.pbtxt'), 'utf8') });
  addJavaScriptModel(repo.root, 'caller', CALLER_CONFIG, { source: CALLER });
  addJavaScriptModel(repo.root, 'greeter', stringsConfig('NAME', 'GREETING'), { source: GREETER, fileName: 'model.mjs' });
  addJavaScriptModel(repo.root, 'shout', stringsConfig('TEXT', 'LOUD'), { source: SHOUT });
  // identity_fp32 is in the repository but never loaded.
  t = await startTestServer({ modelRepositories: [repo.root], modelControlMode: 'explicit', loadModels: ['add_sub', 'caller', 'greeter', 'shout'] });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

const a = Array.from({ length: 16 }, (_, i) => i / 2);
const b = Array.from({ length: 16 }, (_, i) => 100 - i);
function callCaller(parameters: Record<string, string | number | boolean> = {}) {
  return postJson(`${t.url}/v2/models/caller/infer`, {
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: a },
      { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: b },
    ],
    parameters,
  });
}

describe('infer() from a JavaScript model', () => {
  it('calls another model and answers with its outputs', async () => {
    const { status, json } = await callCaller();
    expect(status).toBe(200);
    expect(json.outputs).toEqual([{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 16], data: a.map((v, i) => v + b[i]) }]);
  });

  it("goes through the called model's scheduler, where concurrent calls are batched", async () => {
    const stats = t.server.registry.resolve('add_sub').statistics;
    const [executions, successes] = [stats.executionCount, stats.success.count];
    const { status, json } = await callCaller({ fanout: 8 });
    expect(status).toBe(200);
    expect(json.outputs[0].data).toEqual(a.map((v, i) => v + b[i]));
    expect(stats.success.count - successes).toBe(8);
    expect(stats.executionCount - executions).toBe(1);
  });

  it('calls a JavaScript model with strings, the datatype inferred from the data', async () => {
    const { status, json } = await postJson(`${t.url}/v2/models/greeter/infer`, { inputs: [{ name: 'NAME', datatype: 'BYTES', shape: [2], data: ['ada', 'grace'] }] });
    expect(status).toBe(200);
    expect(json.outputs).toEqual([{ name: 'GREETING', datatype: 'BYTES', shape: [2], data: ['HELLO ADA!', 'HELLO GRACE!'] }]);
  });

  it('rejects a call to a model that is not loaded with the server’s error and code', async () => {
    const caught = await callCaller({ target: 'identity_fp32' });
    expect(caught.status).toBe(500);
    expect(caught.json.error).toBe("model 'caller' version 1 failed: identity_fp32 said (INVALID_ARG): Request for unknown model: 'identity_fp32' is not found");
    const rethrown = await callCaller({ target: 'identity_fp32', rethrow: true });
    expect(rethrown.status).toBe(500);
    expect(rethrown.json.error).toBe("model 'caller' version 1 failed: model.js execute() failed: Request for unknown model: 'identity_fp32' is not found");
  });

  it("rejects a call the called model refuses with that model's message", async () => {
    const { status, json } = await callCaller({ bad_shape: true });
    expect(status).toBe(500);
    expect(json.error).toBe("model 'caller' version 1 failed: add_sub said (INVALID_ARG): unexpected shape for input 'INPUT1' for model 'add_sub'. Expected [-1,16], got [1,3]");
  });

  it('rejects a malformed call in the worker, before it reaches the server', async () => {
    const { status, json } = await callCaller({ malformed: true });
    expect(status).toBe(500);
    expect(json.error).toBe(
      "model 'caller' version 1 failed: add_sub said (INVALID_ARG): infer() needs a request object with the name of a model: infer({ model: 'name', inputs: { … } })",
    );
  });

  it('keeps serving after failed calls', async () => {
    expect((await callCaller()).status).toBe(200);
  });
});
