import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORE_EXAMPLE_MODELS, exampleModels, getJson, postJson, startTestServer, type TestServer } from '../helpers/test-server.js';
import { float32Difference, float32Sum, int32Difference, int32Sum, mlpRow } from '../helpers/reference-models.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer(exampleModels(...CORE_EXAMPLE_MODELS));
});
afterAll(async () => {
  await t.server.stop();
});

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

describe('health and metadata', () => {
  it('is live and ready once every example model is loaded', async () => {
    expect((await fetch(`${t.url}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(200);
    for (const name of ['simple', 'add_sub', 'identity_fp32', 'identity_bytes', 'mlp']) {
      expect((await fetch(`${t.url}/v2/models/${name}/ready`)).status).toBe(200);
      expect((await fetch(`${t.url}/v2/models/${name}/versions/1/ready`)).status).toBe(200);
    }
  });

  it('describes the server with the extensions it implements', async () => {
    const { status, json } = await getJson(`${t.url}/v2`);
    expect(status).toBe(200);
    expect(json.name).toBe('nereid');
    expect(typeof json.version).toBe('string');
    expect(json.extensions).toEqual(['model_configuration', 'model_repository', 'binary_tensor_data', 'classification', 'system_shared_memory', 'cuda_shared_memory', 'statistics', 'trace', 'logging']);
  });

  it('gives model metadata with the batch dimension', async () => {
    const { status, json } = await getJson(`${t.url}/v2/models/simple`);
    expect(status).toBe(200);
    expect(json).toEqual({
      name: 'simple',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] },
        { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] },
      ],
      outputs: [
        { name: 'OUTPUT0', datatype: 'INT32', shape: [-1, 16] },
        { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 16] },
      ],
    });
    expect((await getJson(`${t.url}/v2/models/simple/versions/1`)).json.versions).toEqual(['1']);
    expect((await getJson(`${t.url}/v2/models/identity_bytes`)).json.inputs).toEqual([{ name: 'INPUT0', datatype: 'BYTES', shape: [-1, -1] }]);
  });

  it('returns the model configuration as JSON', async () => {
    const { status, json } = await getJson(`${t.url}/v2/models/add_sub/config`);
    expect(status).toBe(200);
    expect(json.name).toBe('add_sub');
    expect(json.platform).toBe('onnxruntime_onnx');
    expect(json.backend).toBe('onnxruntime');
    expect(json.max_batch_size).toBe(64);
    expect(json.input[0]).toMatchObject({ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [16] });
    expect(json.output.map((o: { name: string }) => o.name)).toEqual(['OUTPUT0', 'OUTPUT1']);
  });
});

describe('inference over JSON', () => {
  it('simple: sums and differences INT32, echoing the id', async () => {
    const a = range(16, (i) => i * 1000 - 7000);
    const b = range(16, (i) => 2147483000 + i * 40);
    const { status, json } = await postJson(`${t.url}/v2/models/simple/infer`, {
      id: 'req-7',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
      ],
    });
    expect(status).toBe(200);
    expect(json.model_name).toBe('simple');
    expect(json.model_version).toBe('1');
    expect(json.id).toBe('req-7');
    expect(json.outputs).toEqual([
      { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], data: int32Sum(a, b) },
      { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], data: int32Difference(a, b) },
    ]);
  });

  it('add_sub: nested data, several rows, an explicit version and one requested output', async () => {
    const rows = range(3, (r) => r);
    const a = rows.map((r) => range(16, (i) => r * 0.5 + i * 0.25));
    const b = rows.map((r) => range(16, (i) => 1.1 * r - i / 3));
    const { status, json } = await postJson(`${t.url}/v2/models/add_sub/versions/1/infer`, {
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [3, 16], data: a },
        { name: 'INPUT1', datatype: 'FP32', shape: [3, 16], data: b },
      ],
      outputs: [{ name: 'OUTPUT1' }],
      parameters: { note: 'accepted' },
    });
    expect(status).toBe(200);
    expect(json.id).toBeUndefined();
    expect(json.outputs).toHaveLength(1);
    expect(json.outputs[0].name).toBe('OUTPUT1');
    expect(json.outputs[0].shape).toEqual([3, 16]);
    expect(json.outputs[0].data).toEqual(float32Difference(a.flat(), b.flat()));
    const sum = await postJson(`${t.url}/v2/models/add_sub/infer`, {
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [3, 16], data: a.flat() },
        { name: 'INPUT1', datatype: 'FP32', shape: [3, 16], data: b.flat() },
      ],
      outputs: [{ name: 'OUTPUT0' }],
    });
    expect(sum.json.outputs[0].data).toEqual(float32Sum(a.flat(), b.flat()));
  });

  it('identity_fp32 and identity_bytes return their input', async () => {
    const values = range(37, (i) => Math.fround(i / 7 - 2));
    const fp = await postJson(`${t.url}/v2/models/identity_fp32/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 37], data: values }],
    });
    expect(fp.json.outputs[0]).toEqual({ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 37], data: values });
    const strings = ['hello', '', 'ünïcödé ✓', 'a "quoted" \\ string'];
    const bytes = await postJson(`${t.url}/v2/models/identity_bytes/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], data: [strings.slice(0, 2), strings.slice(2)] }],
    });
    expect(bytes.status).toBe(200);
    expect(bytes.json.outputs[0]).toEqual({ name: 'OUTPUT0', datatype: 'BYTES', shape: [2, 2], data: strings });
  });

  it('mlp matches the TypeScript reference', async () => {
    const rows = range(2, (r) => range(256, (i) => Math.sin(i * 0.37 + r)));
    const { status, json } = await postJson(`${t.url}/v2/models/mlp/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, 256], data: rows }],
    });
    expect(status).toBe(200);
    expect(json.outputs[0].shape).toEqual([2, 16]);
    const expected = rows.flatMap(mlpRow);
    json.outputs[0].data.forEach((v: number, i: number) => expect(v).toBeCloseTo(expected[i], 4));
  });

  it('answers many concurrent requests each with its own rows', async () => {
    const requests = range(200, (k) => {
      const a = range(16, (i) => k * 100 + i);
      const b = range(16, (i) => k - i);
      return postJson(`${t.url}/v2/models/simple/infer`, {
        id: String(k),
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
        ],
      }).then(({ json }) => {
        expect(json.id).toBe(String(k));
        expect(json.outputs[0].data).toEqual(int32Sum(a, b));
      });
    });
    await Promise.all(requests);
  });
});
