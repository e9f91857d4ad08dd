/** Every datatype through ModelInfer, typed and raw, on the identity example models. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc, InferenceClient, packStrings } from '../helpers/grpc-client.js';
import { exampleModels, startTestServer, type TestServer } from '../helpers/test-server.js';

const { status } = grpc;

interface Case {
  datatype: string;
  /** The typed `contents` of the request; absent for types that travel only raw. */
  contents?: object;
  /** The same values as raw little-endian bytes: what the request sends raw and every answer carries. */
  raw: Buffer;
  count: number;
}

const bytesOf = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);

const CASES: Case[] = [
  { datatype: 'BOOL', contents: { bool_contents: [true, false, true] }, raw: Buffer.from([1, 0, 1]), count: 3 },
  { datatype: 'INT8', contents: { int_contents: [-128, 0, 127] }, raw: bytesOf(Int8Array.from([-128, 0, 127])), count: 3 },
  { datatype: 'INT16', contents: { int_contents: [-32768, 1, 32767] }, raw: bytesOf(Int16Array.from([-32768, 1, 32767])), count: 3 },
  { datatype: 'INT32', contents: { int_contents: [-2147483648, 2, 2147483647] }, raw: bytesOf(Int32Array.from([-2147483648, 2, 2147483647])), count: 3 },
  {
    datatype: 'INT64',
    contents: { int64_contents: ['-9223372036854775808', '3', '9223372036854775807'] },
    raw: bytesOf(BigInt64Array.from([-9223372036854775808n, 3n, 9223372036854775807n])),
    count: 3,
  },
  { datatype: 'UINT8', contents: { uint_contents: [0, 128, 255] }, raw: bytesOf(Uint8Array.from([0, 128, 255])), count: 3 },
  { datatype: 'UINT16', contents: { uint_contents: [0, 4, 65535] }, raw: bytesOf(Uint16Array.from([0, 4, 65535])), count: 3 },
  { datatype: 'UINT32', contents: { uint_contents: [0, 5, 4294967295] }, raw: bytesOf(Uint32Array.from([0, 5, 4294967295])), count: 3 },
  {
    datatype: 'UINT64',
    contents: { uint64_contents: ['0', '6', '18446744073709551615'] },
    raw: bytesOf(BigUint64Array.from([0n, 6n, 18446744073709551615n])),
    count: 3,
  },
  // 1, -2 and 65504 (the largest half) as IEEE half bit patterns.
  { datatype: 'FP16', raw: bytesOf(Uint16Array.from([0x3c00, 0xc000, 0x7bff])), count: 3 },
  { datatype: 'FP32', contents: { fp32_contents: [1.5, -0.25, 3e38] }, raw: bytesOf(Float32Array.from([1.5, -0.25, 3e38])), count: 3 },
  { datatype: 'FP64', contents: { fp64_contents: [Math.PI, -1e300, 5e-324] }, raw: bytesOf(Float64Array.from([Math.PI, -1e300, 5e-324])), count: 3 },
  {
    datatype: 'BYTES',
    contents: { bytes_contents: [Buffer.from('a'), Buffer.from(''), Buffer.from('ünïcode')] },
    raw: packStrings(['a', '', 'ünïcode']),
    count: 3,
  },
];

const modelOf = (datatype: string) => `identity_${datatype.toLowerCase()}`;

let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  t = await startTestServer(exampleModels(...CASES.map((c) => modelOf(c.datatype))));
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t.server.stop();
});

const input = (c: Case) => ({ name: 'INPUT0', datatype: c.datatype, shape: [1, c.count] });

describe.each(CASES)('$datatype', (c) => {
  it('comes back unchanged from raw contents', async () => {
    const response = await client.call('ModelInfer', { model_name: modelOf(c.datatype), inputs: [input(c)], raw_input_contents: [c.raw] });
    expect(response.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: c.datatype, shape: [1, c.count] });
    expect(Buffer.compare(response.raw_output_contents[0], c.raw)).toBe(0);
  });

  it(c.contents ? 'comes back as raw bytes from typed contents' : 'has no typed contents field and says to send it raw', async () => {
    if (!c.contents) {
      const error = await client.fail('ModelInfer', {
        model_name: modelOf(c.datatype),
        inputs: [{ ...input(c), contents: { fp32_contents: [1, -2, 65504] } }],
      });
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toBe(`input 'INPUT0': ${c.datatype} has no typed contents field; send its values in raw_input_contents`);
      return;
    }
    const response = await client.call('ModelInfer', { model_name: modelOf(c.datatype), inputs: [{ ...input(c), contents: c.contents }] });
    expect(Buffer.compare(response.raw_output_contents[0], c.raw)).toBe(0);
  });
});
