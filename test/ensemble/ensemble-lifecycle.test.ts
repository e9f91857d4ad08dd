/** Ensembles and the models they use, through load, unload (with and without unload_dependents) and reload. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addArithmeticModel, addEnsemble, fp32Request, outputOf } from '../helpers/ensemble-models.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  addArithmeticModel(repo.root, 'add_one', { op: 'add_const:1' });
  addArithmeticModel(repo.root, 'double', { op: 'mul_const:2' });
  addEnsemble(repo.root, 'pipeline', {
    inputs: [{ name: 'x' }],
    outputs: [{ name: 'z' }],
    steps: [
      { model: 'add_one', inputs: { INPUT0: 'x' }, outputs: { OUTPUT0: 'y' } },
      { model: 'double', inputs: { INPUT0: 'y' }, outputs: { OUTPUT0: 'z' } },
    ],
  });
  // An ensemble of an ensemble.
  addEnsemble(repo.root, 'outer', {
    inputs: [{ name: 'x' }],
    outputs: [{ name: 'w' }],
    steps: [{ model: 'pipeline', inputs: { x: 'x' }, outputs: { z: 'w' } }],
  });
  t = await startTestServer({ modelRepositories: [repo.root], modelControlMode: 'explicit' });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
});

const states = () => Object.fromEntries(t.server.registry.index().map((e) => [e.name, e.state === 'READY' ? 'READY' : `${e.state}: ${e.reason}`]));
const load = (model: string) => postJson(`${t.url}/v2/repository/models/${model}/load`, {});
const unload = (model: string, parameters?: Record<string, unknown>) =>
  postJson(`${t.url}/v2/repository/models/${model}/unload`, parameters ? { parameters } : {});
const infer = (model: string, values: number[]) => postJson(`${t.url}/v2/models/${model}/infer`, fp32Request({ x: [values] }));

describe('ensemble lifecycle', () => {
  it('loads the models an ensemble uses, and those of the ensembles it uses, in explicit mode', async () => {
    expect(states()).toEqual({ add_one: 'UNAVAILABLE: not loaded', double: 'UNAVAILABLE: not loaded', outer: 'UNAVAILABLE: not loaded', pipeline: 'UNAVAILABLE: not loaded' });
    expect((await load('outer')).status).toBe(200);
    expect(states()).toEqual({ add_one: 'READY', double: 'READY', outer: 'READY', pipeline: 'READY' });
    const { status, json } = await infer('outer', [1, 2, 3, 4]);
    expect(status).toBe(200);
    expect(json.outputs).toEqual([{ name: 'w', datatype: 'FP32', shape: [1, 4], data: [4, 6, 8, 10] }]);
  });

  it('makes the ensembles that use an unloaded model UNAVAILABLE with the reason, and READY once it is back', async () => {
    expect((await unload('double')).status).toBe(200);
    const pipelineReason = "step 2 (model 'double'): model 'double' is not available: model 'double' has no ready version: version 1: unloaded";
    expect(states()).toEqual({
      add_one: 'READY',
      double: 'UNAVAILABLE: unloaded',
      pipeline: `UNAVAILABLE: ${pipelineReason}`,
      outer: `UNAVAILABLE: step 1 (model 'pipeline'): model 'pipeline' is not available: model 'pipeline' has no ready version: version 1: ${pipelineReason}`,
    });
    const refused = await infer('pipeline', [1, 1, 1, 1]);
    expect(refused.status).toBe(503);
    expect(refused.json.error).toBe(`model 'pipeline' has no ready version: version 1: ${pipelineReason}`);

    expect((await load('double')).status).toBe(200);
    expect(states()).toEqual({ add_one: 'READY', double: 'READY', outer: 'READY', pipeline: 'READY' });
    expect(outputOf((await infer('outer', [0, 0, 0, 0])).json, 'w')).toEqual([2, 2, 2, 2]);
  });

  it('serves every request while a composing model is reloaded, then uses the new version', async () => {
    let running = true;
    const statuses: number[] = [];
    const traffic = Array.from({ length: 4 }, async () => {
      while (running) statuses.push((await infer('pipeline', [1, 2, 3, 4])).status);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const config = join(repo.root, 'double', 'config.pbtxt');
    writeFileSync(config, readFileSync(config, 'utf8').replace('mul_const:2', 'mul_const:3'));
    expect((await load('double')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    running = false;
    await Promise.all(traffic);
    expect(statuses.length).toBeGreaterThan(8);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(outputOf((await infer('pipeline', [1, 2, 3, 4])).json, 'z')).toEqual([6, 9, 12, 15]);
    expect(states().pipeline).toBe('READY');
  });

  it('unloads the ensembles that use a model with unload_dependents over HTTP', async () => {
    const refused = await unload('add_one', { unload_dependents: 'yes' });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe(`failed to unload 'add_one': parameter 'unload_dependents' must be a boolean, got "yes"`);
    expect(states().add_one).toBe('READY');

    expect((await unload('add_one', { unload_dependents: true })).status).toBe(200);
    expect(states()).toEqual({ add_one: 'UNAVAILABLE: unloaded', double: 'READY', outer: 'UNAVAILABLE: unloaded', pipeline: 'UNAVAILABLE: unloaded' });
  });

  it('unloads the ensembles that use a model with unload_dependents over gRPC', async () => {
    expect((await load('outer')).status).toBe(200);
    expect(states()).toEqual({ add_one: 'READY', double: 'READY', outer: 'READY', pipeline: 'READY' });
    await client.call('RepositoryModelUnload', { model_name: 'double', parameters: { unload_dependents: { bool_param: true } } });
    expect(states()).toEqual({ add_one: 'READY', double: 'UNAVAILABLE: unloaded', outer: 'UNAVAILABLE: unloaded', pipeline: 'UNAVAILABLE: unloaded' });
  });
});
