/**
 * Implicit state and control inputs of every kind, on a recurrent-style ONNX model whose
 * state has its batch dimension in the middle ([2, batch, 3], as Silero VAD's h and c),
 * plus max_sequence_idle_microseconds and configurations Nereid must refuse.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_DIM, specModelFiles, type ModelSpec } from '../../model_repository/generate.js';
import { getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const ATTRIBUTE_INTS = 7;

/**
 * H' = H + X * [1, 2] along the first axis (H is [2, batch, 3]); Y = H'[0] + H'[1], so
 * after steps x1..xk of a sequence Y = 3 * (x1 + … + xk). The control inputs are echoed
 * as outputs, so that a test sees exactly what the batcher fed.
 */
function recurrentSpec(name: string, sequenceBatching: string, instances = 1): ModelSpec {
  return {
    name,
    description: 'a recurrent cell with state [2, batch, 3]',
    maxBatchSize: 4,
    instanceCount: instances,
    opset: 11,
    inputs: [{ name: 'X', dataType: 'TYPE_FP32', dims: [3] }],
    outputs: [
      { name: 'Y', dataType: 'TYPE_FP32', dims: [3] },
      { name: 'START_SEEN', dataType: 'TYPE_FP32', dims: [1] },
      { name: 'READY_SEEN', dataType: 'TYPE_BOOL', dims: [1] },
      { name: 'CORRID_SEEN', dataType: 'TYPE_INT64', dims: [1] },
    ],
    graphOnlyInputs: [
      { name: 'START', dataType: 'TYPE_FP32', dims: [1] },
      { name: 'READY', dataType: 'TYPE_BOOL', dims: [1] },
      { name: 'CORRID', dataType: 'TYPE_INT64', dims: [1] },
      { name: 'H', dataType: 'TYPE_FP32', dims: [2, BATCH_DIM, 3], wholeShape: true },
    ],
    graphOnlyOutputs: [{ name: 'H_NEXT', dataType: 'TYPE_FP32', dims: [2, BATCH_DIM, 3], wholeShape: true }],
    configExtra: sequenceBatching,
    initializers: () => [{ name: 'scale', dims: [2, 1, 1], values: Float32Array.from([1, 2]) }],
    nodes: () => [
      { op_type: 'Mul', input: ['X', 'scale'], output: ['scaled'] },
      { op_type: 'Add', input: ['H', 'scaled'], output: ['H_NEXT'] },
      { op_type: 'ReduceSum', input: ['H_NEXT'], output: ['Y'], attribute: [{ name: 'axes', type: ATTRIBUTE_INTS, ints: [0] }, { name: 'keepdims', type: 2, i: 0 }] },
      { op_type: 'Identity', input: ['START'], output: ['START_SEEN'] },
      { op_type: 'Identity', input: ['READY'], output: ['READY_SEEN'] },
      { op_type: 'Identity', input: ['CORRID'], output: ['CORRID_SEEN'] },
    ],
  };
}

const CONTROLS = `
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY bool_false_true: [ false, true ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_INT64 } ] }
  ]`;
const STATE = `
  state [ { input_name: "H" output_name: "H_NEXT" data_type: TYPE_FP32 dims: [ 2, 3 ] initial_state: { data_type: TYPE_FP32 dims: [ 2, 3 ] zero_data: true name: "zeros" } } ]`;

function writeModel(root: string, spec: ModelSpec): void {
  const { config, onnx } = specModelFiles(spec);
  mkdirSync(join(root, spec.name, '1'), { recursive: true });
  writeFileSync(join(root, spec.name, 'config.pbtxt'), config);
  writeFileSync(join(root, spec.name, '1', 'model.onnx'), onnx);
}

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  // A generous idle limit everywhere but in the idle test, so that a loaded machine's pauses release nothing.
  writeModel(repo.root, recurrentSpec('recurrent_oldest', `sequence_batching {\n  max_sequence_idle_microseconds: 60000000\n  oldest { max_candidate_sequences: 16 max_queue_delay_microseconds: 2000000 }${CONTROLS}${STATE}\n}\n`, 2));
  writeModel(repo.root, recurrentSpec('recurrent_direct', `sequence_batching {\n  max_sequence_idle_microseconds: 60000000\n  direct { }${CONTROLS}${STATE}\n}\n`));
  writeModel(repo.root, recurrentSpec('recurrent_idle', `sequence_batching {\n  max_sequence_idle_microseconds: 100000\n${CONTROLS}${STATE}\n}\n`));
  writeModel(repo.root, recurrentSpec('recurrent_two_slots', `sequence_batching {\n  max_sequence_idle_microseconds: 60000000\n  oldest { max_candidate_sequences: 2 preserve_ordering: true }${CONTROLS}${STATE}\n}\n`));
  writeModel(
    repo.root,
    recurrentSpec('bad_control_name', `sequence_batching {\n  control_input [ { name: "BEGIN" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] } ]${STATE}\n}\n`),
  );
  writeModel(
    repo.root,
    recurrentSpec(
      'bad_control_type',
      `sequence_batching {\n  control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] } ]${STATE}\n}\n`,
    ),
  );
  writeModel(repo.root, recurrentSpec('bad_state_name', `sequence_batching {${CONTROLS}\n  state [ { input_name: "G" output_name: "H_NEXT" data_type: TYPE_FP32 dims: [ 2, 3 ] } ]\n}\n`));
  const fromFile = (file: string) =>
    `sequence_batching {\n  max_sequence_idle_microseconds: 60000000${CONTROLS}\n  state [ { input_name: "H" output_name: "H_NEXT" data_type: TYPE_FP32 dims: [ 2, 3 ] initial_state: { data_type: TYPE_FP32 dims: [ 2, 3 ] data_file: "${file}" name: "from file" } } ]\n}\n`;
  for (const [model, file] of [
    ['recurrent_from_file', 'h0.bin'],
    ['short_initial_state', 'short.bin'],
    ['missing_initial_state', 'absent.bin'],
    ['escaping_initial_state', '../1/model.onnx'],
  ]) {
    writeModel(repo.root, recurrentSpec(model, fromFile(file)));
    mkdirSync(join(repo.root, model, 'initial_state'));
  }
  // Row-major [2, 3] FP32; a longer file is read up to the state's size, as Triton reads it.
  writeFileSync(join(repo.root, 'recurrent_from_file', 'initial_state', 'h0.bin'), new Uint8Array(Float32Array.of(1, 2, 3, 4, 5, 6, 99).buffer));
  writeFileSync(join(repo.root, 'short_initial_state', 'initial_state', 'short.bin'), new Uint8Array(Float32Array.of(1, 2, 3).buffer));
  t = await startTestServer({
    modelRepositories: [repo.root],
    modelControlMode: 'explicit',
    loadModels: ['recurrent_oldest', 'recurrent_direct', 'recurrent_two_slots', 'recurrent_idle', 'recurrent_from_file'],
  });
});
afterAll(async () => {
  await t.server.stop();
  repo.cleanup();
});

async function step(model: string, x: number[], id: number | string, start: boolean, end: boolean) {
  const { status, json } = await postJson(`${t.url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 3], data: x }],
    parameters: { sequence_id: id, sequence_start: start, sequence_end: end },
  });
  if (status !== 200) return { status, error: json.error as string };
  const byName = Object.fromEntries(json.outputs.map((o: { name: string; data: unknown[] }) => [o.name, o.data]));
  return { status, y: byName.Y as number[], start: byName.START_SEEN as number[], ready: byName.READY_SEEN as boolean[], corrid: byName.CORRID_SEEN as number[] };
}

describe('implicit state with the batch dimension inside the state', () => {
  it('feeds each sequence its own state back, resets it on START, and fills every control input', async () => {
    const first = await step('recurrent_direct', [1, 2, 3], 41, true, false);
    expect(first).toMatchObject({ status: 200, y: [3, 6, 9], start: [1], ready: [true], corrid: [41] });
    const second = await step('recurrent_direct', [1, 1, 1], 41, false, false);
    expect(second).toMatchObject({ y: [6, 9, 12], start: [0], ready: [true], corrid: [41] });
    // A new START on a live sequence begins again from the initial state.
    const restarted = await step('recurrent_direct', [2, 0, 0], 41, true, true);
    expect(restarted).toMatchObject({ y: [6, 0, 0], start: [1] });
  });

  it('stacks the states of many sequences along the middle axis without mixing them', async () => {
    const SEQUENCES = 12;
    const STEPS = 5;
    const stats = t.server.registry.resolve('recurrent_oldest').statistics;
    const before = stats.executionCount;
    const results = await Promise.all(
      Array.from({ length: SEQUENCES }, async (_, s) => {
        const sums = [0, 0, 0];
        for (let k = 0; k < STEPS; k++) {
          const x = [s + 1, -(s + 1) * k, 100 * s + k];
          x.forEach((v, i) => (sums[i] += v));
          const result = await step('recurrent_oldest', x, 9000 + s, k === 0, k === STEPS - 1);
          expect(result.status, result.error).toBe(200);
          expect(result.y).toEqual(sums.map((v) => 3 * v));
          expect(result.corrid).toEqual([9000 + s]);
        }
        return true;
      }),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(stats.executionCount - before).toBeLessThan((SEQUENCES * STEPS) / 2);
    expect(Math.max(...stats.batchStatistics().map((b) => b.batchSize))).toBeGreaterThan(1);
  });
});

describe('initial_state { data_file }', () => {
  it("starts every sequence from the state in the model's initial_state folder, again at each START", async () => {
    // Y = H'[0] + H'[1] with H' = H0 + X * [1, 2]: from H0 = [[1, 2, 3], [4, 5, 6]].
    expect((await step('recurrent_from_file', [0, 0, 0], 81, true, false)).y).toEqual([5, 7, 9]);
    expect((await step('recurrent_from_file', [1, 0, 0], 82, true, false)).y).toEqual([8, 7, 9]);
    expect((await step('recurrent_from_file', [1, 0, 0], 81, false, true)).y).toEqual([8, 7, 9]);
    expect((await step('recurrent_from_file', [0, 1, 0], 82, false, true)).y).toEqual([8, 10, 9]);
    expect((await step('recurrent_from_file', [0, 0, 0], 81, true, true)).y).toEqual([5, 7, 9]);
  });

  it('refuses a file too short for the state, a missing file and a path outside the folder, naming the file', async () => {
    const cases: [string, RegExp][] = [
      ['short_initial_state', /state 'H': initial_state data_file 'short.bin': initial_state setting expects 24 bytes \(6 FP32 values for shape \[2,1,3\]\), but .*short.bin only has 12 bytes/],
      ['missing_initial_state', /state 'H': initial_state data_file 'absent.bin': cannot read .*initial_state\/absent.bin/],
      ['escaping_initial_state', /initial_state data_file '..\/1\/model.onnx' must name a file inside the model's 'initial_state' folder/],
    ];
    for (const [model, message] of cases) {
      const { status, json } = await postJson(`${t.url}/v2/repository/models/${model}/load`, {});
      expect(status, model).toBe(400);
      expect(json.error).toMatch(message);
    }
  });
});

describe('sequence slots', () => {
  it('keeps a new sequence in the backlog while every slot is taken, and runs it once one ends', async () => {
    const model = 'recurrent_two_slots';
    expect((await step(model, [1, 0, 0], 61, true, false)).y).toEqual([3, 0, 0]);
    expect((await step(model, [2, 0, 0], 62, true, false)).y).toEqual([6, 0, 0]);
    let third: Awaited<ReturnType<typeof step>> | undefined;
    const waiting = step(model, [3, 0, 0], 63, true, false).then((result) => (third = result));
    // Both slots are taken: the two live sequences go on while the third waits for a slot.
    expect((await step(model, [1, 0, 0], 61, false, false)).y).toEqual([6, 0, 0]);
    expect((await step(model, [1, 0, 0], 62, false, false)).y).toEqual([9, 0, 0]);
    expect(third).toBeUndefined();
    expect((await step(model, [1, 0, 0], 61, false, true)).y).toEqual([9, 0, 0]);
    await waiting;
    expect(third).toMatchObject({ status: 200, y: [9, 0, 0], corrid: [63] });
    expect((await step(model, [1, 0, 0], 63, false, true)).y).toEqual([12, 0, 0]);
    expect((await step(model, [1, 0, 0], 62, false, true)).y).toEqual([12, 0, 0]);
  });
});

describe('max_sequence_idle_microseconds', () => {
  it('releases an idle sequence and says so on its next request; a new START begins afresh', async () => {
    expect((await step('recurrent_idle', [5, 5, 5], 4242, true, false)).y).toEqual([15, 15, 15]);
    // The sequence may idle for 100 ms; it idles ten times that (a longer wait can only make its release more certain).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const late = await step('recurrent_idle', [1, 1, 1], 4242, false, false);
    expect(late.status).toBe(400);
    expect(late.error).toMatch(
      /^inference request for sequence 4242 to model 'recurrent_idle' must specify the START flag on the first request of the sequence \(the sequence was released after \d+ ms without requests, beyond max_sequence_idle_microseconds 100000\)$/,
    );
    expect((await step('recurrent_idle', [1, 0, 0], 4242, true, true)).y).toEqual([3, 0, 0]);
  });
});

describe('sequence_batching configurations that cannot work', () => {
  it('fails the load with a message naming the control input or state', async () => {
    const cases: [string, string][] = [
      ['bad_control_name', "sequence batching control input 'BEGIN' is not an input of the model file"],
      ['bad_control_type', "sequence batching control input 'START' (CONTROL_SEQUENCE_START) gives INT32 values but the model file's input is float32"],
      ['bad_state_name', "state input 'G' is not an input of the model file"],
    ];
    for (const [model, message] of cases) {
      const { status, json } = await postJson(`${t.url}/v2/repository/models/${model}/load`, {});
      expect(status, model).toBe(400);
      expect(json.error).toContain(message);
    }
    const index = await postJson(`${t.url}/v2/repository/index`, {});
    const states = Object.fromEntries(index.json.map((m: { name: string; state: string }) => [m.name, m.state]));
    expect(states).toMatchObject({ bad_control_name: 'UNAVAILABLE', recurrent_direct: 'READY' });
    expect((await getJson(`${t.url}/v2/models/recurrent_idle/config`)).json.sequence_batching).toMatchObject({
      max_sequence_idle_microseconds: 100000,
      direct: { max_queue_delay_microseconds: 0 },
      state: [{ input_name: 'H', output_name: 'H_NEXT', dims: [2, 3] }],
    });
  });
});
