/**
 * A state output also listed under `output` (Triton allows it, for debugging): a client
 * that asks for it gets the sequence's new state with its answer, and the state still
 * goes back to the model on the next request. A client that does not ask for it does not
 * get it; the wrong listings are refused at load with a message naming the state.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_DIM, specModelFiles, type ModelSpec } from '../../model_repository/generate.js';
import { grpc, InferenceClient, int32sOf } from '../helpers/grpc-client.js';
import { EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

/** simple_string_dyna_sequence (state ACC_IN → ACC_OUT: the running sum) under another name, with `outputs` as its output section. */
function addAccumulator(name: string, outputs: string): void {
  cpSync(join(EXAMPLE_REPOSITORY, 'simple_string_dyna_sequence'), join(repo.root, name), { recursive: true });
  const configPath = join(repo.root, name, 'config.pbtxt');
  const config = readFileSync(configPath, 'utf8')
    .replace('name: "simple_string_dyna_sequence"', `name: "${name}"`)
    .replace(/output \[[\s\S]*?\n\]\n/, `output [ ${outputs} ]\n`);
  writeFileSync(configPath, config);
}

const OUTPUT = '{ name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] }';

beforeAll(async () => {
  addAccumulator('accumulator_with_state', `${OUTPUT}, { name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 1 ] }`);
  addAccumulator('state_output_wrong_type', `${OUTPUT}, { name: "ACC_OUT" data_type: TYPE_FP32 dims: [ 1 ] }`);
  // A recurrent state [2, batch, 3] listed under output: its batch dimension is not the first, as a model output's must be.
  const recurrent: ModelSpec = {
    name: 'recurrent_state_output',
    description: 'H_NEXT = H + X',
    maxBatchSize: 4,
    opset: 11,
    inputs: [{ name: 'X', dataType: 'TYPE_FP32', dims: [3] }],
    outputs: [{ name: 'Y', dataType: 'TYPE_FP32', dims: [3] }],
    graphOnlyInputs: [{ name: 'H', dataType: 'TYPE_FP32', dims: [2, BATCH_DIM, 3], wholeShape: true }],
    graphOnlyOutputs: [{ name: 'H_NEXT', dataType: 'TYPE_FP32', dims: [2, BATCH_DIM, 3], wholeShape: true }],
    configExtra: 'sequence_batching { state [ { input_name: "H" output_name: "H_NEXT" data_type: TYPE_FP32 dims: [ 2, 3 ] } ] }\n',
    nodes: () => [
      { op_type: 'Add', input: ['H', 'X'], output: ['H_NEXT'] },
      { op_type: 'Identity', input: ['X'], output: ['Y'] },
    ],
  };
  const { config, onnx } = specModelFiles(recurrent);
  mkdirSync(join(repo.root, recurrent.name, '1'), { recursive: true });
  writeFileSync(join(repo.root, recurrent.name, 'config.pbtxt'), config.replace('output [', 'output [ { name: "H_NEXT" data_type: TYPE_FP32 dims: [ 2, 3 ] },'));
  writeFileSync(join(repo.root, recurrent.name, '1', 'model.onnx'), onnx);
  t = await startTestServer({ modelRepositories: [repo.root], modelControlMode: 'explicit', loadModels: ['accumulator_with_state'] });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
});

function step(value: number, id: string, start: boolean, end: boolean, outputs?: string[]) {
  const body: Record<string, unknown> = {
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] }],
    parameters: { sequence_id: id, sequence_start: start, sequence_end: end },
  };
  if (outputs) body.outputs = outputs.map((name) => ({ name }));
  return postJson(`${t.url}/v2/models/accumulator_with_state/infer`, body);
}

const byName = (json: { outputs: Array<{ name: string; data: number[]; shape: number[] }> }) => Object.fromEntries(json.outputs.map((o) => [o.name, o]));

describe('a state output listed under output', () => {
  it('is returned to a client that asks for it, while the state still feeds the next request', async () => {
    const values = [3, 4, 5];
    let sum = 0;
    for (let k = 0; k < values.length; k++) {
      const end = k === values.length - 1;
      const { status, json } = await step(values[k], '700', k === 0, end, ['OUTPUT', 'ACC_OUT']);
      expect(status, JSON.stringify(json)).toBe(200);
      sum += values[k];
      const outputs = byName(json);
      expect(outputs.ACC_OUT).toMatchObject({ datatype: 'INT32', shape: [1, 1], data: [sum] });
      expect(outputs.OUTPUT.data).toEqual([sum + (end ? 700 : 0)]);
    }
  });

  it('is returned only to the requests that ask for it, when sequences batch together', async () => {
    const answers = await Promise.all(
      [0, 1, 2, 3].map(async (s) => {
        const id = String(800 + s);
        const asks = s % 2 === 0;
        const first = await step(10 * (s + 1), id, true, false, asks ? ['ACC_OUT'] : ['OUTPUT']);
        const second = await step(1, id, false, true, asks ? ['ACC_OUT', 'OUTPUT'] : ['OUTPUT']);
        return { s, asks, first: first.json, second: second.json };
      }),
    );
    for (const { s, asks, first, second } of answers) {
      const sum = 10 * (s + 1);
      if (asks) {
        expect(first.outputs.map((o: { name: string }) => o.name)).toEqual(['ACC_OUT']);
        expect(byName(first).ACC_OUT.data).toEqual([sum]);
        expect(byName(second).ACC_OUT.data).toEqual([sum + 1]);
        expect(byName(second).OUTPUT.data).toEqual([sum + 1 + 800 + s]);
      } else {
        expect(first.outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT']);
        expect(second.outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT']);
        expect(second.outputs[0].data).toEqual([sum + 1 + 800 + s]);
      }
    }
  });

  it('comes with every output when a request names none, over HTTP and gRPC', async () => {
    const { json } = await step(6, '900', true, false);
    expect(Object.keys(byName(json)).sort()).toEqual(['ACC_OUT', 'OUTPUT']);
    const response = await client.call('ModelInfer', {
      model_name: 'accumulator_with_state',
      inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], contents: { int_contents: [2] } }],
      outputs: [{ name: 'ACC_OUT' }],
      parameters: { sequence_id: { string_param: '900' }, sequence_end: { bool_param: true } },
    });
    expect(response.outputs.map((o: { name: string }) => o.name)).toEqual(['ACC_OUT']);
    expect(int32sOf(response.raw_output_contents[0])).toEqual([8]);
  });

  it('lists the state output in the metadata as an output of the model', async () => {
    const { json } = await getJson(`${t.url}/v2/models/accumulator_with_state`);
    expect(json.outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT', 'ACC_OUT']);
  });

  it('refuses an unknown output name as before, and a listing whose data_type differs from the state at load', async () => {
    const unknown = await step(1, '901', true, true, ['ACC_IN']);
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toContain('ACC_IN');
    const load = await postJson(`${t.url}/v2/repository/models/state_output_wrong_type/load`, {});
    expect(load.status).toBe(400);
    expect(load.json.error).toContain("output 'ACC_OUT'");
    expect(load.json.error).toContain('TYPE_FP32');
    expect(load.json.error).toContain('TYPE_INT32');
    const grpcError = await client.fail('ModelInfer', { model_name: 'state_output_wrong_type', inputs: [] });
    expect(grpcError.code).not.toBe(grpc.status.OK);
  });

  it('cannot list a state whose batch dimension is not the first: the model file check names it', async () => {
    const load = await postJson(`${t.url}/v2/repository/models/recurrent_state_output/load`, {});
    expect(load.status).toBe(400);
    expect(load.json.error).toContain("output 'H_NEXT' has shape [2,-1,3] in the model file but the configuration gives [-1,2,3]");
  });
});
