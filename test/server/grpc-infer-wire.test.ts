/**
 * The field-by-field ModelInferRequest reader (infer-wire.ts) against protobufjs's
 * reflection codec of the same .proto: requests read the same, malformed bytes are
 * refused with where they break. BYTES contents come packed (bytes-contents.ts) and are
 * compared as their elements; grpc-bytes-contents.test.ts tests the packing itself.
 */
import { describe, expect, it } from 'vitest';
import { byteElementViews, type PackedBytes } from '../../src/core/index.js';
import { int64ToNumber, messageType, type Int64 } from '../../src/server/grpc/grpc-messages.js';
import { readModelInferRequest } from '../../src/server/grpc/infer-wire.js';

const encode = (type: string, value: object) => Buffer.from(messageType(type).encode(messageType(type).fromObject(value)).finish());

/** An InferParameter as what its readers use: the oneof's choice and that field (protobufjs also shows the others' defaults). */
function plainParameter(value: { parameter_choice?: string } & Record<string, unknown>): unknown {
  const choice = value.parameter_choice;
  return choice ? { parameter_choice: choice, [choice]: plain(value[choice]) } : {};
}

/** A decoded message as plain data: int64 values as numbers, bytes as arrays, protobufjs's prototypes dropped. */
function plain(value: unknown, key?: string): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'object' && 'low' in (value as object) && 'high' in (value as object)) return int64ToNumber(value as Int64);
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map((item) => plain(item));
  if (typeof value === 'object' && key === 'parameters') {
    const map: Record<string, unknown> = {};
    for (const name of Object.keys(value as object)) map[name] = plainParameter((value as Record<string, Record<string, unknown>>)[name]);
    return map;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // for…in: protobufjs keeps a message's default values on its prototype.
    for (const key in value as object) {
      const field = (value as Record<string, unknown>)[key];
      if (typeof field !== 'function' && !key.startsWith('$')) out[key] = plain(field, key);
    }
    return out;
  }
  return value;
}

const REQUESTS: Record<string, object> = {
  'raw contents': {
    model_name: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] },
    ],
    raw_input_contents: [Buffer.alloc(64, 1), Buffer.alloc(64, 2)],
  },
  'every field': {
    model_name: 'mödel',
    model_version: '3',
    id: 'req-1',
    parameters: {
      sequence_id: { int64_param: '-9007199254740991' },
      flag: { bool_param: true },
      who: { string_param: 'me' },
      ratio: { double_param: 0.25 },
      big: { uint64_param: '18446744073709551615' },
      negative: { int64_param: '-5' },
      beyond_double: { int64_param: '9007199254740993' },
      off: { bool_param: false },
      empty: {},
    },
    inputs: [
      { name: 'A', datatype: 'FP32', shape: [2, -1, 0, 4294967296], parameters: { shared_memory_region: { string_param: 'r' } }, contents: { fp32_contents: [1.5, 2] } },
      { name: 'B', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('x')] } },
    ],
    outputs: [{ name: 'Y', parameters: { classification: { int64_param: 3 } } }, { name: 'Z' }],
    raw_input_contents: [Buffer.alloc(0)],
  },
  empty: {},
};

describe('readModelInferRequest', () => {
  it.each(Object.entries(REQUESTS))('reads %s as protobufjs does', (_, request) => {
    const bytes = encode('ModelInferRequest', request);
    const read = readModelInferRequest(bytes) as unknown as { inputs: Array<{ contents: { bytes_contents: PackedBytes | Uint8Array[] } | null }> };
    for (const input of read.inputs) if (input.contents) input.contents.bytes_contents = byteElementViews(input.contents.bytes_contents as PackedBytes);
    expect(plain(read)).toEqual(plain(messageType('ModelInferRequest').decode(bytes)));
  });

  it('reads unpacked shapes and skips unknown fields of every wire type', () => {
    const known = encode('ModelInferRequest', REQUESTS['raw contents']);
    // Unknown field 99 as varint, fixed64, bytes and fixed32; an unpacked shape field (3, varint) in an extra input.
    const unknown = Buffer.from([0x98, 0x06, 0x05, 0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0x9a, 0x06, 0x02, 0xaa, 0xbb, 0x9d, 0x06, 1, 2, 3, 4]);
    const input = Buffer.from([0x2a, 0x07, 0x0a, 0x01, 0x43, 0x18, 0x02, 0x18, 0x05]);
    const bytes = Buffer.concat([known, unknown, input]);
    const message = readModelInferRequest(bytes);
    expect(message.model_name).toBe('simple');
    expect(message.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['INPUT0', [1, 16]],
      ['INPUT1', [1, 16]],
      ['C', [2, 5]],
    ]);
  });

  it('keeps raw contents as views on the received message', () => {
    const bytes = encode('ModelInferRequest', REQUESTS['raw contents']);
    const [first] = readModelInferRequest(bytes).raw_input_contents;
    expect(first.buffer).toBe(bytes.buffer);
    expect(Array.from(first)).toEqual(Array(64).fill(1));
  });

  it('refuses truncated and malformed bytes, saying where', () => {
    const bytes = encode('ModelInferRequest', REQUESTS['every field']);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const attempt = () => readModelInferRequest(bytes.subarray(0, cut));
      // Some prefixes end exactly between fields and are valid messages; the others name an offset.
      try {
        attempt();
      } catch (err) {
        expect((err as Error).message).toMatch(/offset \d+|index out of range|invalid wire type/);
      }
    }
    expect(() => readModelInferRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff]))).toThrow(/truncated varint at offset 4/);
    expect(() => readModelInferRequest(Buffer.from([0x0a, 0x05, 0x61]))).toThrow(/field of 5 bytes at offset 2 runs past the end/);
    expect(() => readModelInferRequest(Buffer.from([0x08, 0x01]))).toThrow(/field 'model_name' has wire type 0/);
    expect(() => readModelInferRequest(Buffer.from([0x9f, 0x06]))).toThrow(/invalid wire type 7 at offset 2/);
  });
});
