/**
 * Every KServe datatype through the identity models, over HTTP JSON, HTTP binary and
 * gRPC (typed and raw contents): what goes in comes back bit for bit. BF16, which the
 * onnxruntime backend cannot carry, goes through a JavaScript identity model.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityModelFiles } from '../../model_repository/generate.js';
import { bf16Value, fp16Value, type Datatype } from '../../src/core/index.js';
import { bytesOf, packStrings, postBinary, unpackStrings } from '../helpers/binary-http.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { EXAMPLE_REPOSITORY, getJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

interface Sample {
  datatype: Datatype;
  model: string;
  /** Six values, sent as shape [2, 3]. */
  data: ArrayBufferView | string[];
  /** The JSON text of `data` as a client writes it. */
  jsonText: string;
  /** The typed-contents field of gRPC, when the datatype has one. */
  contentsField?: string;
}

const u64 = (values: bigint[]) => BigUint64Array.from(values);
const i64 = (values: bigint[]) => BigInt64Array.from(values);

const SAMPLES: Sample[] = [
  { datatype: 'BOOL', model: 'identity_bool', data: Uint8Array.from([1, 0, 1, 1, 0, 0]), jsonText: '[true,false,true,true,false,false]', contentsField: 'bool_contents' },
  { datatype: 'UINT8', model: 'identity_uint8', data: Uint8Array.from([0, 1, 127, 128, 254, 255]), jsonText: '', contentsField: 'uint_contents' },
  { datatype: 'UINT16', model: 'identity_uint16', data: Uint16Array.from([0, 1, 32767, 32768, 65534, 65535]), jsonText: '', contentsField: 'uint_contents' },
  { datatype: 'UINT32', model: 'identity_uint32', data: Uint32Array.from([0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1]), jsonText: '', contentsField: 'uint_contents' },
  { datatype: 'UINT64', model: 'identity_uint64', data: u64([0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n]), jsonText: '' },
  { datatype: 'INT8', model: 'identity_int8', data: Int8Array.from([-128, -1, 0, 1, 126, 127]), jsonText: '', contentsField: 'int_contents' },
  { datatype: 'INT16', model: 'identity_int16', data: Int16Array.from([-32768, -1, 0, 1, 32766, 32767]), jsonText: '', contentsField: 'int_contents' },
  { datatype: 'INT32', model: 'identity_int32', data: Int32Array.from([-(2 ** 31), -1, 0, 1, 2 ** 31 - 2, 2 ** 31 - 1]), jsonText: '', contentsField: 'int_contents' },
  { datatype: 'INT64', model: 'identity_int64', data: i64([-(2n ** 63n), -(2n ** 53n) - 1n, -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n]), jsonText: '' },
  { datatype: 'FP16', model: 'identity_fp16', data: Uint16Array.from([0x0000, 0x0001, 0x3c00, 0x7bff, 0xc000, 0x3555]), jsonText: '' },
  { datatype: 'FP32', model: 'identity_fp32', data: Float32Array.from([0, 0.1, -1.5, 3.4028234663852886e38, 1.401298464324817e-45, -123.456]), jsonText: '', contentsField: 'fp32_contents' },
  { datatype: 'FP64', model: 'identity_fp64', data: Float64Array.from([0, Math.PI, -Number.MAX_VALUE, Number.MIN_VALUE, 1e-300, -2.5]), jsonText: '', contentsField: 'fp64_contents' },
  { datatype: 'BF16', model: 'identity_bf16', data: Uint16Array.from([0x0000, 0x0001, 0x3f80, 0x7f7f, 0xc000, 0x3eaa]), jsonText: '' },
  { datatype: 'BYTES', model: 'identity_bytes', data: ['', 'a', 'héllo wörld', '🌊 tide', 'x'.repeat(300), 'tab\there'], jsonText: '', contentsField: 'bytes_contents' },
];

/** JSON text for a sample's values: 64-bit integers with every digit, 16-bit floats as the numbers they hold. */
function jsonTextOf(sample: Sample): string {
  if (sample.jsonText) return sample.jsonText;
  const { datatype, data } = sample;
  if (datatype === 'BYTES') return JSON.stringify(data);
  if (datatype === 'FP16') return JSON.stringify(Array.from(data as Uint16Array, fp16Value));
  if (datatype === 'BF16') return JSON.stringify(Array.from(data as Uint16Array, bf16Value));
  return `[${Array.from(data as unknown as ArrayLike<number | bigint>, String).join(',')}]`;
}

function rawOf(sample: Sample): Buffer {
  return sample.datatype === 'BYTES' ? packStrings(sample.data as string[]) : bytesOf(sample.data as ArrayBufferView);
}

/** The `data` array text of the only output, cut from the response text so that no digit is lost. */
function dataText(responseText: string): string {
  const match = /"data":(\[.*\])\}\]\}$/.exec(responseText);
  if (!match) throw new Error(`no data in ${responseText}`);
  return match[1];
}

let t: TestServer;
let client: InferenceClient;
let scratch: ReturnType<typeof scratchRepository>;

beforeAll(async () => {
  scratch = scratchRepository();
  addJavaScriptModel(
    scratch.root,
    'identity_bf16',
    `backend: "javascript"
max_batch_size: 8
input [{ name: "INPUT0", data_type: TYPE_BF16, dims: [ -1 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_BF16, dims: [ -1 ] }]
`,
    { source: 'export function execute(requests) { return requests.map((r) => ({ outputs: { OUTPUT0: r.inputs.INPUT0 } })); }\n' },
  );
  const onnx = identityModelFiles('identity_bf16_onnx', 'TYPE_BF16');
  mkdirSync(join(scratch.root, 'identity_bf16_onnx', '1'), { recursive: true });
  writeFileSync(join(scratch.root, 'identity_bf16_onnx', 'config.pbtxt'), onnx.config);
  writeFileSync(join(scratch.root, 'identity_bf16_onnx', '1', 'model.onnx'), onnx.onnx);
  t = await startTestServer({ modelRepositories: [EXAMPLE_REPOSITORY, scratch.root] });
  client = new InferenceClient(t.grpcTarget);
}, 120_000);

afterAll(async () => {
  client?.close();
  await t?.server.stop();
  scratch?.cleanup();
});

describe.each(SAMPLES)('$datatype through $model', (sample) => {
  const { datatype, model } = sample;
  const input = { name: 'INPUT0', datatype, shape: [2, 3] };

  it('HTTP JSON: values in, the same values out', async () => {
    const body = `{"inputs":[{"name":"INPUT0","datatype":"${datatype}","shape":[2,3],"data":${jsonTextOf(sample)}}]}`;
    const res = await fetch(`${t.url}/v2/models/${model}/infer`, { method: 'POST', body });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const output = JSON.parse(text).outputs[0];
    expect(output).toMatchObject({ name: 'OUTPUT0', datatype, shape: [2, 3] });
    expect(dataText(text)).toBe(jsonTextOf(sample));
  });

  it('HTTP binary: raw bytes in, the same bytes out', async () => {
    const raw = rawOf(sample);
    const answer = await postBinary(
      `${t.url}/v2/models/${model}/infer`,
      { inputs: [{ ...input, parameters: { binary_data_size: raw.length } }], outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }] },
      [raw],
    );
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/octet-stream');
    expect(answer.json.outputs[0]).toEqual({ name: 'OUTPUT0', datatype, shape: [2, 3], parameters: { binary_data_size: raw.length } });
    expect(answer.outputs.get('OUTPUT0')!.equals(raw)).toBe(true);
  });

  it('gRPC: raw contents in, the same raw contents out', async () => {
    const raw = rawOf(sample);
    const response = await client.call('ModelInfer', { model_name: model, inputs: [input], raw_input_contents: [raw] });
    expect(response.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype, shape: [2, 3] });
    expect(Buffer.from(response.raw_output_contents[0]).equals(raw)).toBe(true);
  });

  it.runIf(sample.contentsField !== undefined)('gRPC: typed contents in, the same values out as raw contents', async () => {
    const values =
      datatype === 'BOOL' ? Array.from(sample.data as Uint8Array, Boolean)
      : datatype === 'BYTES' ? (sample.data as string[]).map((s) => Buffer.from(s))
      : Array.from(sample.data as unknown as ArrayLike<number>);
    const response = await client.call('ModelInfer', {
      model_name: model,
      inputs: [{ ...input, contents: { [sample.contentsField!]: values } }],
    });
    const out = Buffer.from(response.raw_output_contents[0]);
    if (datatype === 'BYTES') expect(unpackStrings(out).map(String)).toEqual(sample.data);
    else expect(out.equals(rawOf(sample))).toBe(true);
  });
});

describe('BF16 with the onnxruntime backend', () => {
  it('fails to load with a message naming BF16 and the backend', async () => {
    const { status, json } = await getJson(`${t.url}/v2/models/identity_bf16_onnx/ready`);
    expect(status).toBe(400);
    expect(json.error).toContain("model 'identity_bf16_onnx' has no ready version: version 1: BF16 is not supported by the onnxruntime backend: ");
    expect(json.error).toContain('onnxruntime-node cannot pass');
  });
});

describe("Triton's example models for these datatypes", () => {
  const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

  it('simple_string: decimal strings in, their sum and difference as strings out', async () => {
    const a = ints(16, (i) => i * 1000 - 7);
    const b = ints(16, (i) => 2 ** 31 - 1 - i);
    const body = {
      inputs: [
        { name: 'INPUT0', datatype: 'BYTES', shape: [1, 16], data: a.map(String) },
        { name: 'INPUT1', datatype: 'BYTES', shape: [1, 16], data: b.map(String) },
      ],
    };
    const res = await fetch(`${t.url}/v2/models/simple_string/infer`, { method: 'POST', body: JSON.stringify(body) });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(200);
    const out = (name: string) => json.outputs.find((o: { name: string }) => o.name === name);
    expect(out('OUTPUT0')).toEqual({ name: 'OUTPUT0', datatype: 'BYTES', shape: [1, 16], data: a.map((x, i) => String((x + b[i]) | 0)) });
    expect(out('OUTPUT1').data).toEqual(a.map((x, i) => String((x - b[i]) | 0)));
  });

  it('simple_int8: int8 sum and difference, over gRPC typed contents', async () => {
    const a = ints(16, (i) => i * 16 - 128);
    const b = ints(16, (i) => 127 - i * 3);
    const response = await client.call('ModelInfer', {
      model_name: 'simple_int8',
      inputs: [
        { name: 'INPUT0', datatype: 'INT8', shape: [1, 16], contents: { int_contents: a } },
        { name: 'INPUT1', datatype: 'INT8', shape: [1, 16], contents: { int_contents: b } },
      ],
    });
    const wrap = (x: number) => (x << 24) >> 24;
    const names = response.outputs.map((o: { name: string }) => o.name);
    const raw = (name: string) => Array.from(new Int8Array(Buffer.from(response.raw_output_contents[names.indexOf(name)])));
    expect(raw('OUTPUT0')).toEqual(a.map((x, i) => wrap(x + b[i])));
    expect(raw('OUTPUT1')).toEqual(a.map((x, i) => wrap(x - b[i])));
  });

  it('simple_identity: BYTES identity with a batch of rows, in binary', async () => {
    const strings = ['row 0 a', 'row 0 b', 'row 1 a', 'row 1 ✓'];
    const raw = packStrings(strings);
    const answer = await postBinary(
      `${t.url}/v2/models/simple_identity/infer`,
      { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], parameters: { binary_data_size: raw.length } }], parameters: { binary_data_output: true } },
      [raw],
    );
    expect(answer.status).toBe(200);
    expect(unpackStrings(answer.outputs.get('OUTPUT0')!).map(String)).toEqual(strings);
  });
});
