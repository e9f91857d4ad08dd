/**
 * The field-by-field ModelInferRequest reader and response writers (infer-wire.ts) against
 * protobufjs's reflection codecs of the same .proto: requests read the same, responses
 * are the same bytes, malformed bytes are refused with where they break.
 */
import { describe, expect, it } from 'vitest';
import { int64ToNumber, messageType, type Int64 } from '../../src/server/grpc/grpc-messages.js';
import { parametersToWire } from '../../src/server/grpc/infer-parameters.js';
import { readModelInferRequest, writeModelInferResponse, writeStreamInferResponse, type WireInferResponse } from '../../src/server/grpc/infer-wire.js';

const encode = (type: string, value: object) => Buffer.from(messageType(type).encode(messageType(type).fromObject(value)).finish());

/** A decoded message as plain data: int64 values as numbers, bytes as arrays, protobufjs's prototypes dropped. */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'object' && 'low' in (value as object) && 'high' in (value as object)) return int64ToNumber(value as Int64);
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // for…in: protobufjs keeps a message's default values on its prototype.
    for (const key in value as object) {
      const field = (value as Record<string, unknown>)[key];
      if (typeof field !== 'function' && !key.startsWith('$')) out[key] = plain(field);
    }
    const choice = (value as { parameter_choice?: string }).parameter_choice;
    if (choice) out.parameter_choice = choice;
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
    expect(plain(readModelInferRequest(bytes))).toEqual(plain(messageType('ModelInferRequest').decode(bytes)));
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

const RESPONSES: Record<string, WireInferResponse> = {
  plain: {
    model_name: 'simple',
    model_version: '1',
    outputs: [
      { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], raw: Buffer.alloc(64, 3) },
      { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], raw: Buffer.alloc(64, 4) },
    ],
  },
  'id, parameters of every kind, odd shapes, an empty raw entry': {
    model_name: 'mödel',
    model_version: '',
    id: 'r-☃',
    parameters: { sequence_id: -5, big: 2 ** 40, ok: true, no: false, ratio: 0.5, who: 'me', triton_final_response: true },
    outputs: [
      { name: 'S', datatype: 'FP32', shape: [], raw: Buffer.alloc(4) },
      { name: 'N', datatype: 'INT64', shape: [-1, 0, 300, 2 ** 35], raw: new Uint8Array(0) },
    ],
  },
  'no outputs': { model_name: 'm', model_version: '1', outputs: [] },
};

/** The object the reflection codec takes for the same response. */
function reflected(response: WireInferResponse): object {
  const message: Record<string, unknown> = {
    model_name: response.model_name,
    model_version: response.model_version,
    outputs: response.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    raw_output_contents: response.outputs.map((output) => output.raw),
  };
  if (response.id !== undefined) message.id = response.id;
  if (response.parameters) message.parameters = parametersToWire(response.parameters);
  return message;
}

describe('writeModelInferResponse and writeStreamInferResponse', () => {
  it.each(Object.entries(RESPONSES))('write %s byte for byte as protobufjs does', (_, response) => {
    const expected = Buffer.from(messageType('ModelInferResponse').encode(reflected(response)).finish());
    expect(writeModelInferResponse(response).equals(expected)).toBe(true);
    const streamed = Buffer.from(messageType('ModelStreamInferResponse').encode({ infer_response: reflected(response) }).finish());
    expect(writeStreamInferResponse(response).equals(streamed)).toBe(true);
  });

  it('round-trips through protobufjs', () => {
    const decoded = plain(messageType('ModelInferResponse').decode(writeModelInferResponse(RESPONSES['id, parameters of every kind, odd shapes, an empty raw entry']))) as Record<string, any>;
    expect(decoded.id).toBe('r-☃');
    expect(decoded.outputs[1].shape).toEqual([-1, 0, 300, 2 ** 35]);
    expect(decoded.parameters.sequence_id).toMatchObject({ int64_param: -5, parameter_choice: 'int64_param' });
    expect(decoded.parameters.ratio).toMatchObject({ double_param: 0.5, parameter_choice: 'double_param' });
  });
});
