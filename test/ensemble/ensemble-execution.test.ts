/** Ensembles as DAGs: branches and joins, concurrency, batching at every step, errors, statistics. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addArithmeticModel, addEnsemble, fp32Request, outputOf } from '../helpers/ensemble-models.js';
import { pending, waitFor } from '../helpers/javascript-models.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
const gates = mkdtempSync(join(tmpdir(), 'nereid-gates-'));
let t: TestServer;

beforeAll(async () => {
  addArithmeticModel(repo.root, 'add_one', { op: 'add_const:1' });
  addArithmeticModel(repo.root, 'double', { op: 'mul_const:2' });
  addArithmeticModel(repo.root, 'triple', { op: 'mul_const:3' });
  addArithmeticModel(repo.root, 'sum', { op: 'add' });
  // x → add_one → y; y → double → b and y → triple → c, at once; b + c → sum → z = 5 (x + 1).
  addEnsemble(repo.root, 'diamond', {
    inputs: [{ name: 'x' }],
    outputs: [{ name: 'z' }, { name: 'y' }],
    steps: [
      { model: 'add_one', inputs: { INPUT0: 'x' }, outputs: { OUTPUT0: 'y' } },
      { model: 'double', inputs: { INPUT0: 'y' }, outputs: { OUTPUT0: 'b' } },
      { model: 'triple', inputs: { INPUT0: 'y' }, outputs: { OUTPUT0: 'c' } },
      { model: 'sum', inputs: { INPUT0: 'b', INPUT1: 'c' }, outputs: { OUTPUT0: 'z' } },
    ],
  });
  // x → add_one → y → double → z = 2 (x + 1), with the rows of each step's executions.
  addEnsemble(repo.root, 'pipeline', {
    inputs: [{ name: 'x' }],
    outputs: [{ name: 'z' }, { name: 'rows_a', type: 'TYPE_INT32', dims: [1] }, { name: 'rows_b', type: 'TYPE_INT32', dims: [1] }],
    steps: [
      { model: 'add_one', inputs: { INPUT0: 'x' }, outputs: { OUTPUT0: 'y', ROWS: 'rows_a' } },
      { model: 'double', inputs: { INPUT0: 'y' }, outputs: { OUTPUT0: 'z', ROWS: 'rows_b' } },
    ],
  });
  t = await startTestServer({ modelRepositories: [repo.root] });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
  rmSync(gates, { recursive: true, force: true });
});

const infer = (model: string, body: unknown) => postJson(`${t.url}/v2/models/${model}/infer`, body);
const statistics = (model: string) => t.server.registry.resolve(model).statistics;

describe('ensemble execution', () => {
  it('runs independent branches at once and joins them', async () => {
    // double and triple each wait for the other to have started: only concurrent branches finish.
    const parameters = {
      double_signal: join(gates, 'double'),
      double_wait: join(gates, 'triple'),
      triple_signal: join(gates, 'triple'),
      triple_wait: join(gates, 'double'),
    };
    const { status, json } = await infer('diamond', fp32Request({ x: [[1, 2, 3, 4]] }, { id: 'd1', parameters }));
    expect(status).toBe(200);
    expect(json.id).toBe('d1');
    expect(json.model_name).toBe('diamond');
    expect(json.outputs.map((o: { name: string }) => o.name)).toEqual(['z', 'y']);
    expect(outputOf(json, 'z')).toEqual([10, 15, 20, 25]);
    expect(outputOf(json, 'y')).toEqual([2, 3, 4, 5]);
  });

  it('runs only the steps that the requested outputs need', async () => {
    const before = ['add_one', 'double', 'triple', 'sum'].map((m) => statistics(m).executionCount);
    const { status, json } = await infer('diamond', fp32Request({ x: [[0, 0, 0, 1]] }, { outputs: [{ name: 'y' }] }));
    expect(status).toBe(200);
    expect(json.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [1, 4], data: [1, 1, 1, 2] }]);
    const after = ['add_one', 'double', 'triple', 'sum'].map((m) => statistics(m).executionCount);
    expect(after.map((n, k) => n - before[k])).toEqual([1, 0, 0, 0]);
  });

  it('batches concurrent ensemble requests at every step, each answer from its own input', async () => {
    const [gateA, gateB, started] = ['gate-a', 'gate-b', 'started'].map((name) => join(gates, name));
    const ensembleBefore = statistics('pipeline').success.count;
    const executionsBefore = [statistics('add_one').executionCount, statistics('double').executionCount];
    // The first request holds each step's only instance in turn, so that the others queue behind it there.
    const first = infer('pipeline', fp32Request({ x: [[0, 0, 0, 0]] }, { parameters: { add_one_signal: started, add_one_wait: gateA, double_wait: gateB } }));
    await waitFor(() => existsSync(started), 'add_one to hold the first request');
    const rest = Array.from({ length: 23 }, (_, k) => infer('pipeline', fp32Request({ x: [[k, k + 1, k + 2, k + 3]] })));
    await waitFor(() => pending(t.server, 'add_one') === 24, 'the other requests to queue at add_one');
    writeFileSync(gateA, '');
    await waitFor(() => pending(t.server, 'double') === 24, 'the other requests to queue at double');
    writeFileSync(gateB, '');

    const answers = await Promise.all(rest);
    answers.forEach(({ status, json }, k) => {
      expect(status).toBe(200);
      expect(outputOf(json, 'z')).toEqual([k, k + 1, k + 2, k + 3].map((v) => 2 * (v + 1)));
      expect(outputOf(json, 'rows_a')).toEqual([23]);
      expect(outputOf(json, 'rows_b')).toEqual([23]);
    });
    expect((await first).status).toBe(200);

    // Statistics per ensemble and per composing model.
    const ensemble = statistics('pipeline');
    expect(ensemble.success.count - ensembleBefore).toBe(24);
    expect(ensemble.executionCount).toBe(0);
    expect(ensemble.queue.ns).toBeGreaterThan(0);
    expect(ensemble.computeInfer.ns).toBeGreaterThan(0);
    expect(statistics('add_one').executionCount - executionsBefore[0]).toBe(2);
    expect(statistics('double').executionCount - executionsBefore[1]).toBe(2);
  });

  it('fails only the request whose step failed, naming the step and the model', async () => {
    const failuresBefore = statistics('pipeline').failures.BACKEND;
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, k) => infer('pipeline', fp32Request({ x: [[k, k, k, k]] }, k === 3 ? { parameters: { fail: 'double' } } : {}))),
    );
    answers.forEach(({ status, json }, k) => {
      if (k === 3) {
        expect(status).toBe(500);
        expect(json.error).toBe("ensemble 'pipeline' step 2 (model 'double'): model 'double' version 1 failed: double was asked to fail");
      } else {
        expect(status).toBe(200);
        expect(outputOf(json, 'z')).toEqual(new Array(4).fill(2 * (k + 1)));
      }
    });
    expect(statistics('pipeline').failures.BACKEND - failuresBefore).toBe(1);
  });

  it('checks a request against the ensemble configuration before any step runs', async () => {
    const before = statistics('add_one').success.count + statistics('add_one').fail.count;
    const wrongType = await infer('pipeline', { inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 4], data: [1, 2, 3, 4] }] });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error).toBe("inference input 'x' data-type is 'INT32', but model 'pipeline' expects 'FP32'");
    const unknownOutput = await infer('pipeline', fp32Request({ x: [[1, 2, 3, 4]] }, { outputs: [{ name: 'y' }] }));
    expect(unknownOutput.status).toBe(400);
    expect(unknownOutput.json.error).toBe("unexpected inference output 'y' for model 'pipeline'");
    expect(statistics('add_one').success.count + statistics('add_one').fail.count).toBe(before);
  });

  it('answers a request of several rows with every step batching them together', async () => {
    const { status, json } = await infer('pipeline', fp32Request({ x: [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]] }));
    expect(status).toBe(200);
    expect(json.outputs[0]).toEqual({ name: 'z', datatype: 'FP32', shape: [3, 4], data: [4, 4, 4, 4, 6, 6, 6, 6, 8, 8, 8, 8] });
    expect(outputOf(json, 'rows_a')).toEqual([3, 3, 3]);
  });

  it('describes the ensemble in its metadata and configuration', async () => {
    const metadata = await (await fetch(`${t.url}/v2/models/diamond`)).json();
    expect(metadata).toMatchObject({ name: 'diamond', versions: ['1'], platform: 'ensemble', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }] });
    const config = await (await fetch(`${t.url}/v2/models/diamond/config`)).json();
    expect(config.ensemble_scheduling.step).toHaveLength(4);
    expect(config.ensemble_scheduling.step[3]).toMatchObject({ model_name: 'sum', model_version: -1, input_map: { INPUT0: 'b', INPUT1: 'c' }, output_map: { OUTPUT0: 'z' } });
  });
});
