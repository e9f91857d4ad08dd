/** Every way an ensemble can be wrong is refused at load, with a reason that says where. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addArithmeticModel, addEnsemble, type StepSpec, type TensorSpec } from '../helpers/ensemble-models.js';
import { getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const x: TensorSpec = { name: 'x' };
const addOne = (from: string, to: string): StepSpec => ({ model: 'add_one', inputs: { INPUT0: from }, outputs: { OUTPUT0: to } });
const double = (from: string, to: string): StepSpec => ({ model: 'double', inputs: { INPUT0: from }, outputs: { OUTPUT0: to } });

/** Each bad ensemble and the reason its load must give. */
const BAD_ENSEMBLES: Record<string, [Parameters<typeof addEnsemble>[2], string]> = {
  unknown_step_model: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [{ model: 'nope', inputs: { INPUT0: 'x' }, outputs: { OUTPUT0: 'y' } }] },
    "step 1 (model 'nope'): model 'nope' is not available: Request for unknown model: 'nope' is not found",
  ],
  consumed_never_produced: [
    { inputs: [x], outputs: [{ name: 'z' }], steps: [addOne('x', 'y'), double('ghost', 'z')] },
    "step 2 (model 'double') input 'INPUT0' reads tensor 'ghost', which no step produces and which is not an ensemble input (ensemble inputs: 'x')",
  ],
  produced_twice: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [addOne('x', 'y'), double('x', 'y')] },
    "tensor 'y' is produced twice: by step 1 (model 'add_one') and by step 2 (model 'double') output 'OUTPUT0'",
  ],
  input_produced_by_a_step: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [addOne('x', 'y'), double('y', 'x')] },
    "tensor 'x' is produced twice: by the ensemble input of that name and by step 2 (model 'double') output 'OUTPUT0'",
  ],
  datatype_disagreement: [
    { inputs: [{ name: 'x', type: 'TYPE_INT32' }], outputs: [{ name: 'y' }], steps: [addOne('x', 'y')] },
    "tensor 'x': ensemble input 'x' is INT32 [-1,4] but step 1 (model 'add_one') input 'INPUT0' is FP32 [-1,4]",
  ],
  shape_disagreement: [
    { inputs: [x], outputs: [{ name: 'y', dims: [5] }], steps: [addOne('x', 'y')] },
    "tensor 'y': step 1 (model 'add_one') output 'OUTPUT0' is FP32 [-1,4] but ensemble output 'y' is FP32 [-1,5]",
  ],
  connected_steps_disagree: [
    { inputs: [x], outputs: [{ name: 'z', dims: [6] }], steps: [addOne('x', 'y'), { model: 'wide', inputs: { INPUT0: 'y' }, outputs: { OUTPUT0: 'z' } }] },
    "tensor 'y': step 1 (model 'add_one') output 'OUTPUT0' is FP32 [-1,4] but step 2 (model 'wide') input 'INPUT0' is FP32 [-1,6]",
  ],
  cycle: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [addOne('z', 'y'), double('y', 'z'), { model: 'sum', inputs: { INPUT0: 'x', INPUT1: 'y' }, outputs: { OUTPUT0: 'w' } }] },
    "the steps form a cycle: step 1 (model 'add_one') → 'y' → step 2 (model 'double') → 'z' → step 1 (model 'add_one')",
  ],
  output_not_produced: [
    { inputs: [x], outputs: [{ name: 'y' }, { name: 'never' }], steps: [addOne('x', 'y')] },
    "ensemble output 'never' is not produced by any step (no output_map writes 'never')",
  ],
  unknown_model_input: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [{ model: 'add_one', inputs: { INPUT0: 'x', INPUT9: 'x' }, outputs: { OUTPUT0: 'y' } }] },
    "step 1 (model 'add_one'): input_map names input 'INPUT9', which model 'add_one' does not have (its inputs: 'INPUT0')",
  ],
  unfed_model_input: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [{ model: 'sum', inputs: { INPUT0: 'x' }, outputs: { OUTPUT0: 'y' } }] },
    "step 1 (model 'sum'): model 'sum' requires input 'INPUT1', which input_map does not feed",
  ],
  unknown_model_output: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [{ model: 'add_one', inputs: { INPUT0: 'x' }, outputs: { OUTPUT7: 'y' } }] },
    "step 1 (model 'add_one'): output_map names output 'OUTPUT7', which model 'add_one' does not have (its outputs: 'OUTPUT0', 'ROWS')",
  ],
  batch_too_large: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [addOne('x', 'y')], maxBatchSize: 64 },
    "step 1 (model 'add_one'): the ensemble allows batches of 64 but model 'add_one' only of 32",
  ],
  uses_itself: [
    { inputs: [x], outputs: [{ name: 'y' }], steps: [{ model: 'uses_itself', inputs: { x: 'x' }, outputs: { y: 'y' } }] },
    "step 1 (model 'uses_itself') uses the ensemble itself, which would be a cycle",
  ],
};

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  addArithmeticModel(repo.root, 'add_one', { op: 'add_const:1' });
  addArithmeticModel(repo.root, 'double', { op: 'mul_const:2' });
  addArithmeticModel(repo.root, 'sum', { op: 'add' });
  addArithmeticModel(repo.root, 'wide', { op: 'mul_const:1', width: 6 });
  for (const [name, [spec]] of Object.entries(BAD_ENSEMBLES)) addEnsemble(repo.root, name, spec);
  t = await startTestServer({ modelRepositories: [repo.root], modelControlMode: 'explicit', loadModels: ['add_one', 'double', 'sum', 'wide'] });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

describe('ensemble validation', () => {
  it.each(Object.entries(BAD_ENSEMBLES))('refuses %s with a precise reason', async (name, [, reason]) => {
    const load = await postJson(`${t.url}/v2/repository/models/${name}/load`, {});
    expect(load.status).toBe(400);
    expect(load.json.error).toBe(`failed to load '${name}': version 1: ${reason}`);

    const entry = t.server.registry.index().find((e) => e.name === name)!;
    expect(entry).toEqual({ name, version: '1', state: 'UNAVAILABLE', reason });
    const ready = await getJson(`${t.url}/v2/models/${name}/ready`);
    expect(ready.status).toBe(400);
    expect(ready.json.error).toBe(`model '${name}' has no ready version: version 1: ${reason}`);
    const infer = await postJson(`${t.url}/v2/models/${name}/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    expect(infer.status).toBe(503);
    expect(infer.json.error).toContain(reason);
  });

  it('keeps serving the step models whatever the ensembles that use them get wrong', async () => {
    const { status } = await postJson(`${t.url}/v2/models/add_one/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    expect(status).toBe(200);
  });
});
