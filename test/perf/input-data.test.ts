import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSteps, generatedSteps } from '../../src/perf/input-data.js';
import type { ModelInfo, TensorInfo } from '../../src/perf/model-info.js';
import { planRequests } from '../../src/perf/request-plan.js';

const dir = mkdtempSync(join(tmpdir(), 'nereid-perf-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const INPUTS: TensorInfo[] = [
  { name: 'INPUT0', datatype: 'INT32', dims: [4], optional: false },
  { name: 'TEXT', datatype: 'BYTES', dims: [-1], optional: false },
];
const model = (maxBatchSize: number, inputs = INPUTS): ModelInfo => ({ name: 'm', version: '', versions: ['1'], maxBatchSize, inputs, outputs: [], decoupled: false });

describe('input data', () => {
  it("reads perf_analyzer's JSON: flat and nested lists, content with shape, b64, several streams", () => {
    const int32 = Buffer.from(new Int32Array([5, 6, 7, 8]).buffer).toString('base64');
    const path = file('data.json', {
      data: [
        [{ INPUT0: [1, 2, 3, 4], TEXT: ['a', 'b'] }, { INPUT0: [[1, 2], [3, 4]], TEXT: { content: ['x', 'y', 'z'], shape: [3] } }],
        [{ INPUT0: { b64: int32 }, TEXT: ['q'] }],
      ],
    });
    const steps = fileSteps([path], INPUTS, {});
    expect(steps).toHaveLength(3);
    expect(steps[1].TEXT).toEqual({ shape: [3], values: ['x', 'y', 'z'] });
    expect(steps[2].INPUT0).toEqual({ shape: [4], values: [5, 6, 7, 8] });
  });

  it('names the file, the entry and the input of every mistake', () => {
    const fails = (content: unknown, message: string, inputs = INPUTS) => expect(() => fileSteps([file('bad.json', content)], inputs, {})).toThrow(message);
    const path = join(dir, 'bad.json');
    fails('{"data": [', `--input-data ${path}: `);
    fails({ rows: [] }, `--input-data ${path}: expected {"data": [ … ]} with at least one entry`);
    fails({ data: [{ INPUT0: [1, 2, 3, 4] }] }, `${path}: data[0]: no value for input 'TEXT'`);
    fails({ data: [{ INPUT0: [1, 2, 3], TEXT: ['a'] }] }, `${path}: data[0]: input 'INPUT0': 3 values do not fill shape [4] (4 expected)`);
    fails({ data: [{ INPUT0: [1, 2, 3, 'x'], TEXT: ['a'] }] }, `${path}: data[0]: input 'INPUT0': value "x" at position 3 is not a number as INT32 requires`);
    fails({ data: [{ INPUT0: [1, 2, 3, 4], TEXT: ['a'], EXTRA: [1] }] }, `${path}: data[0]: the model has no input 'EXTRA'`);
  });

  it('generates zero and random data of the resolved shapes, and asks for the shape of variable inputs', () => {
    expect(() => generatedSteps(INPUTS, {}, 'zero', { length: 3, data: undefined })).toThrow(
      "input 'TEXT' has a variable dimension (dims [-1]); give its shape with --shape TEXT:<d1,d2,…>",
    );
    const zero = generatedSteps(INPUTS, { TEXT: [2] }, 'zero', { length: 3, data: undefined });
    expect(zero).toEqual([{ INPUT0: { shape: [4], values: [0, 0, 0, 0] }, TEXT: { shape: [2], values: ['', ''] } }]);
    const random = generatedSteps(INPUTS, { TEXT: [2] }, 'random', { length: 5, data: undefined });
    expect(random.length).toBeGreaterThan(1);
    expect((random[0].TEXT.values as string[]).every((s) => s.length === 5)).toBe(true);
    expect(generatedSteps(INPUTS, { TEXT: [1] }, 'random', { length: 5, data: 'hello' })[0].TEXT.values).toEqual(['hello']);
    expect(() => generatedSteps(INPUTS, { INPUT0: [5], TEXT: [1] }, 'zero', { length: 1, data: undefined })).toThrow('--shape INPUT0:5 does not fit the model\'s dims [4]');
  });

  it('batches consecutive steps and checks the batch size against the model', () => {
    const steps = fileSteps([file('two.json', { data: [{ INPUT0: [1, 1, 1, 1], TEXT: ['a'] }, { INPUT0: [2, 2, 2, 2], TEXT: ['b'] }] })], INPUTS, {});
    const requests = planRequests(model(8), steps, 2);
    expect(requests[0]).toEqual([
      { name: 'INPUT0', datatype: 'INT32', shape: [2, 4], values: [1, 1, 1, 1, 2, 2, 2, 2] },
      { name: 'TEXT', datatype: 'BYTES', shape: [2, 1], values: ['a', 'b'] },
    ]);
    expect(planRequests(model(0), steps, 1)[1][0].shape).toEqual([4]);
    expect(() => planRequests(model(0), steps, 2)).toThrow("model 'm' does not batch (max_batch_size 0), so -b 2 is impossible; use -b 1");
    expect(() => planRequests(model(8), steps, 9)).toThrow("-b 9 exceeds the max_batch_size 8 of model 'm'");
  });
});
