/** ModelInfer through a real grpc-js client: typed and raw contents for every datatype the example models take. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32Difference, float32Sum, int32Difference, int32Sum, mlpRow } from '../helpers/reference-models.js';
import { floatsOf, grpc, InferenceClient, int32sOf, packStrings, rawBytes, unpackStrings } from '../helpers/grpc-client.js';
import { CORE_EXAMPLE_MODELS, exampleModels, postJson, startTestServer, type TestServer } from '../helpers/test-server.js';

const { status } = grpc;
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  t = await startTestServer(exampleModels(...CORE_EXAMPLE_MODELS));
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t.server.stop();
});

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const tensor = (name: string, datatype: string, shape: number[], contents?: object) => ({ name, datatype, shape, ...(contents ? { contents } : {}) });

function addSubRequest(a: number[], b: number[], rows = 1) {
  return {
    model_name: 'add_sub',
    inputs: [tensor('INPUT0', 'FP32', [rows, 16]), tensor('INPUT1', 'FP32', [rows, 16])],
    raw_input_contents: [rawBytes(Float32Array.from(a)), rawBytes(Float32Array.from(b))],
  };
}

describe('typed contents', () => {
  it('simple: INT32 in int_contents, echoing the id, answered in raw_output_contents', async () => {
    const a = range(16, (i) => i * 1000 - 7000);
    const b = range(16, (i) => 2147483000 + i * 40);
    const response = await client.call('ModelInfer', {
      model_name: 'simple',
      id: 'req-7',
      inputs: [tensor('INPUT0', 'INT32', [1, 16], { int_contents: a }), tensor('INPUT1', 'INT32', [1, 16], { int_contents: b })],
    });
    expect(response.model_name).toBe('simple');
    expect(response.model_version).toBe('1');
    expect(response.id).toBe('req-7');
    expect(response.outputs.map((o: { name: string; datatype: string; shape: number[] }) => [o.name, o.datatype, o.shape])).toEqual([
      ['OUTPUT0', 'INT32', [1, 16]],
      ['OUTPUT1', 'INT32', [1, 16]],
    ]);
    expect(int32sOf(response.raw_output_contents[0])).toEqual(int32Sum(a, b));
    expect(int32sOf(response.raw_output_contents[1])).toEqual(int32Difference(a, b));
  });

  it('add_sub: FP32 in fp32_contents, several rows, an explicit version and one requested output', async () => {
    const a = range(48, (i) => i / 3);
    const b = range(48, (i) => 1 - i / 7);
    const response = await client.call('ModelInfer', {
      model_name: 'add_sub',
      model_version: '1',
      inputs: [tensor('INPUT0', 'FP32', [3, 16], { fp32_contents: a }), tensor('INPUT1', 'FP32', [3, 16], { fp32_contents: b })],
      outputs: [{ name: 'OUTPUT1' }],
    });
    expect(response.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape])).toEqual([['OUTPUT1', [3, 16]]]);
    expect(response.raw_output_contents).toHaveLength(1);
    expect(floatsOf(response.raw_output_contents[0])).toEqual(float32Difference(a, b));
  });

  it('identity_bytes: BYTES in bytes_contents, empty and multi-byte elements included', async () => {
    const values = [Buffer.from('hello'), Buffer.from(''), Buffer.from('wörld ✓'), Buffer.from('line\nbreak\t')];
    const response = await client.call('ModelInfer', {
      model_name: 'identity_bytes',
      inputs: [tensor('INPUT0', 'BYTES', [1, 4], { bytes_contents: values })],
    });
    expect(response.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'BYTES', shape: [1, 4] });
    expect(unpackStrings(response.raw_output_contents[0])).toEqual(values);
  });
});

describe('raw contents', () => {
  it('simple: INT32 raw', async () => {
    const a = range(32, (i) => -i * 12345);
    const b = range(32, (i) => i * 777);
    const response = await client.call('ModelInfer', {
      model_name: 'simple',
      inputs: [tensor('INPUT0', 'INT32', [2, 16]), tensor('INPUT1', 'INT32', [2, 16])],
      raw_input_contents: [rawBytes(Int32Array.from(a)), rawBytes(Int32Array.from(b))],
    });
    expect(int32sOf(response.raw_output_contents[0])).toEqual(int32Sum(a, b));
    expect(int32sOf(response.raw_output_contents[1])).toEqual(int32Difference(a, b));
  });

  it('add_sub and identity_fp32: FP32 raw', async () => {
    const a = range(16, (i) => i * 0.1);
    const b = range(16, (i) => 100 - i);
    const response = await client.call('ModelInfer', { ...addSubRequest(a, b), id: 'raw-1' });
    expect(response.id).toBe('raw-1');
    expect(floatsOf(response.raw_output_contents[0])).toEqual(float32Sum(a, b));
    expect(floatsOf(response.raw_output_contents[1])).toEqual(float32Difference(a, b));

    const values = Float32Array.from([Number.NaN, Infinity, -0, 1e-40, 3.25]);
    const identity = await client.call('ModelInfer', {
      model_name: 'identity_fp32',
      inputs: [tensor('INPUT0', 'FP32', [1, 5])],
      raw_input_contents: [rawBytes(values)],
    });
    expect(identity.outputs[0].shape).toEqual([1, 5]);
    expect(Buffer.compare(identity.raw_output_contents[0], rawBytes(values))).toBe(0);
  });

  it('identity_bytes: BYTES raw, 4-byte little-endian length-prefixed', async () => {
    const values = ['a', '', 'longer string with ünïcode', 'x'.repeat(70000)];
    const response = await client.call('ModelInfer', {
      model_name: 'identity_bytes',
      inputs: [tensor('INPUT0', 'BYTES', [2, 2])],
      raw_input_contents: [packStrings(values)],
    });
    expect(response.outputs[0].shape).toEqual([2, 2]);
    expect(Buffer.compare(response.raw_output_contents[0], packStrings(values))).toBe(0);
  });

  it('mlp matches the TypeScript reference', async () => {
    const rows = range(3, (r) => range(256, (i) => Math.sin(r * 256 + i) * 2));
    const response = await client.call('ModelInfer', {
      model_name: 'mlp',
      inputs: [tensor('INPUT0', 'FP32', [3, 256])],
      raw_input_contents: [rawBytes(Float32Array.from(rows.flat()))],
    });
    const got = floatsOf(response.raw_output_contents[0]);
    rows.forEach((row, r) => {
      const expected = mlpRow(row);
      got.slice(r * 16, r * 16 + 16).forEach((value, i) => expect(value).toBeCloseTo(expected[i], 3));
    });
  });

  it('passes request and output parameters through without disturbing the result', async () => {
    const a = range(16, (i) => i);
    const response = await client.call('ModelInfer', {
      ...addSubRequest(a, a),
      parameters: { flag: { bool_param: true }, n: { int64_param: 42 }, s: { string_param: 'x' }, d: { double_param: 0.5 } },
      outputs: [{ name: 'OUTPUT0', parameters: { note: { string_param: 'y' } } }],
    });
    expect(floatsOf(response.raw_output_contents[0])).toEqual(float32Sum(a, a));
  });
});

describe('bad requests', () => {
  const a = range(16, (i) => i);

  it.each([
    [
      'a datatype the model does not take',
      { model_name: 'add_sub', inputs: [tensor('INPUT0', 'INT32', [1, 16], { int_contents: a }), tensor('INPUT1', 'FP32', [1, 16], { fp32_contents: a })] },
      `inference input 'INPUT0' data-type is 'INT32', but model 'add_sub' expects 'FP32'`,
    ],
    [
      'raw content of the wrong size',
      { ...addSubRequest(a, a), raw_input_contents: [rawBytes(Float32Array.from(a)), Buffer.alloc(60)] },
      `input 'INPUT1': raw content of 60 bytes does not match shape [1,16] of FP32, which needs 64 bytes`,
    ],
    [
      'fewer raw contents than inputs',
      { ...addSubRequest(a, a), raw_input_contents: [rawBytes(Float32Array.from(a))] },
      `model 'add_sub': the request has 2 inputs but 1 raw_input_contents; give raw contents for every input, in the order of 'inputs', or for none`,
    ],
    [
      'contents next to raw_input_contents',
      {
        ...addSubRequest(a, a),
        inputs: [tensor('INPUT0', 'FP32', [1, 16], { fp32_contents: a }), tensor('INPUT1', 'FP32', [1, 16])],
      },
      `contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'add_sub'`,
    ],
    [
      'an input without data',
      { model_name: 'add_sub', inputs: [tensor('INPUT0', 'FP32', [1, 16]), tensor('INPUT1', 'FP32', [1, 16], { fp32_contents: a })] },
      `unable to find data for input tensor 'INPUT0' for model 'add_sub' in request.`,
    ],
    [
      'a missing input',
      { model_name: 'add_sub', inputs: [tensor('INPUT0', 'FP32', [1, 16], { fp32_contents: a })] },
      `expected 2 inputs but got 1 inputs for model 'add_sub'; missing required input(s) 'INPUT1'`,
    ],
    [
      'a shape the model does not take',
      { model_name: 'add_sub', inputs: [tensor('INPUT0', 'FP32', [2, 8], { fp32_contents: a }), tensor('INPUT1', 'FP32', [2, 8], { fp32_contents: a })] },
      `unexpected shape for input 'INPUT0' for model 'add_sub'. Expected [-1,16], got [2,8]`,
    ],
    [
      'an unknown requested output',
      { ...addSubRequest(a, a), outputs: [{ name: 'OUTPUT9' }] },
      `unexpected inference output 'OUTPUT9' for model 'add_sub'`,
    ],
  ])('refuses %s with INVALID_ARGUMENT and a precise message', async (_what, request, message) => {
    const error = await client.fail('ModelInfer', request);
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toBe(message);
  });

  it('answers classification as BYTES in raw_output_contents', async () => {
    const response = await client.call('ModelInfer', {
      ...addSubRequest(range(16, (i) => i), range(16, () => 0)),
      outputs: [{ name: 'OUTPUT0', parameters: { classification: { int64_param: 2 } } }],
    });
    expect(response.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'BYTES', shape: [1, 2] });
    expect(unpackStrings(response.raw_output_contents[0]).map(String)).toEqual(['15.000000:15', '14.000000:14']);
  });

  it('keeps serving good requests while bad ones arrive concurrently', async () => {
    const calls = range(40, (i) =>
      i % 2 === 0
        ? client.call('ModelInfer', { ...addSubRequest(range(16, (k) => k + i), a), id: String(i) })
        : client.fail('ModelInfer', { ...addSubRequest(a, a), raw_input_contents: [Buffer.alloc(3), Buffer.alloc(3)] }),
    );
    const results = await Promise.all(calls);
    results.forEach((result, i) => {
      if (i % 2 === 0) expect(floatsOf(result.raw_output_contents[0])).toEqual(float32Sum(range(16, (k) => k + i), a));
      else expect(result.code).toBe(status.INVALID_ARGUMENT);
    });
  });
});

describe('transport', () => {
  it.each([
    ['gzip', 2],
    ['deflate', 1],
  ])('accepts %s-compressed requests', async (_name, algorithm) => {
    const compressed = new InferenceClient(t.grpcTarget, { 'grpc.default_compression_algorithm': algorithm });
    try {
      const a = range(16, (i) => i * 2);
      const response = await compressed.call('ModelInfer', addSubRequest(a, a));
      expect(floatsOf(response.raw_output_contents[0])).toEqual(float32Sum(a, a));
    } finally {
      compressed.close();
    }
  });

  it('answers HTTP and gRPC requests to the same model at the same time, each with its own rows', async () => {
    const b = range(16, () => 0.5);
    const jobs = range(30, (i) => {
      const a = range(16, (k) => k * 10 + i);
      if (i % 2 === 0) {
        return client.call('ModelInfer', addSubRequest(a, b)).then((r) => ({ i, a, sum: floatsOf(r.raw_output_contents[0]) }));
      }
      return postJson(`${t.url}/v2/models/add_sub/infer`, {
        inputs: [
          { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: a },
          { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: b },
        ],
      }).then((r) => ({ i, a, sum: r.json.outputs[0].data as number[] }));
    });
    for (const { a, sum } of await Promise.all(jobs)) expect(sum).toEqual(float32Sum(a, b));
  });
});
