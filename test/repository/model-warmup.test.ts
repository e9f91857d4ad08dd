import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { addModel, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

/** Records every INPUT0 it executes in `executed.log` next to config.pbtxt; refuses negative values. */
const RECORDING_MODEL = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(args) { log = args.modelDirectory + '/executed.log'; }
export function execute(requests) {
  return requests.map((r) => {
    const values = Array.from(r.inputs.INPUT0.data);
    if (values.some((v) => v < 0)) return { error: 'negative input ' + values.find((v) => v < 0) };
    appendFileSync(log, JSON.stringify(values) + '\\n');
    return { outputs: { OUTPUT0: { shape: r.inputs.INPUT0.shape, data: r.inputs.INPUT0.data } } };
  });
}
`;

const jsConfig = (warmup: string) => `backend: "javascript"
max_batch_size: 4
input [{ name: "INPUT0", data_type: TYPE_INT32, dims: [ 3 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 3 ] }]
instance_group [{ count: 2 kind: KIND_CPU }]
${warmup}
`;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(setup: (root: string) => void): Promise<TestServer> {
  const { root, cleanup } = scratchRepository();
  cleanups.push(cleanup);
  setup(root);
  const t = await startTestServer({ modelRepositories: [root] });
  cleanups.push(() => t.server.stop());
  return t;
}

const stateOf = (t: TestServer, name: string) => t.server.registry.index().find((e) => e.name === name)!;
const executed = (root: string, name: string) =>
  readFileSync(join(root, name, 'executed.log'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));

describe('model_warmup', () => {
  it('runs zero, random and file data on every instance, count times, before the model is READY', async () => {
    let root = '';
    const t = await serve((r) => {
      root = r;
      addJavaScriptModel(r, 'warm', jsConfig(`
model_warmup [
  { name: "zeros" batch_size: 2 count: 2 inputs { key: "INPUT0" value: { data_type: TYPE_INT32 dims: [ 3 ] zero_data: true } } },
  { name: "from_file" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_INT32 dims: [ 3 ] input_data_file: "row.bin" } } }
]`), { source: RECORDING_MODEL });
      mkdirSync(join(r, 'warm', 'warmup'));
      writeFileSync(join(r, 'warm', 'warmup', 'row.bin'), Buffer.from(new Int32Array([7, 8, 9]).buffer));
    });
    expect(stateOf(t, 'warm').state).toBe('READY');
    const runs = executed(root, 'warm');
    // Two instances × (two zero batches + one file batch).
    expect(runs).toHaveLength(6);
    expect(runs.filter((values) => values.join() === '0,0,0,0,0,0')).toHaveLength(4);
    expect(runs.filter((values) => values.join() === '7,8,9')).toHaveLength(2);
    const answer = await postJson(`${t.url}/v2/models/warm/infer`, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 3], data: [1, 2, 3] }] });
    expect(answer.json.outputs[0].data).toEqual([1, 2, 3]);
  });

  it('warms an ONNX model with random data', async () => {
    const t = await serve((r) =>
      addModel(r, 'mlp', {
        from: 'mlp',
        config: `platform: "onnxruntime_onnx"
max_batch_size: 128
model_warmup [{ name: "random" batch_size: 64 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 256 ] random_data: true } } }]`,
      }),
    );
    expect(stateOf(t, 'mlp').state).toBe('READY');
  });

  it('a failing warmup fails the load with its reason', async () => {
    const t = await serve((r) => {
      addJavaScriptModel(r, 'refuses', jsConfig(`
model_warmup [{ name: "bad_file" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_INT32 dims: [ 3 ] input_data_file: "negative.bin" } } }]`), { source: RECORDING_MODEL });
      mkdirSync(join(r, 'refuses', 'warmup'));
      writeFileSync(join(r, 'refuses', 'warmup', 'negative.bin'), Buffer.from(new Int32Array([1, -5, 2]).buffer));
      addJavaScriptModel(r, 'short_file', jsConfig(`
model_warmup [{ name: "short" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_INT32 dims: [ 3 ] input_data_file: "short.bin" } } }]`), { source: RECORDING_MODEL });
      mkdirSync(join(r, 'short_file', 'warmup'));
      writeFileSync(join(r, 'short_file', 'warmup', 'short.bin'), Buffer.alloc(5));
    });
    expect(stateOf(t, 'refuses')).toMatchObject({ state: 'UNAVAILABLE' });
    expect(stateOf(t, 'refuses').reason).toMatch(/^warmup 'bad_file' failed on instance refuses_[\d_]+: negative input -5$/);
    expect(stateOf(t, 'short_file').reason).toMatch(/^warmup 'short' failed on instance short_file_[\d_]+: input 'INPUT0' \(.*short\.bin\).*5/);
  });
});
