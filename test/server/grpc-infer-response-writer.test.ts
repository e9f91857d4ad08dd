/**
 * The hand-written ModelInferResponse writer against protobufjs: whatever it writes must
 * decode to the message protobufjs encodes from the same response, unary and streamed.
 */
import { describe, expect, it } from 'vitest';
import { packBytes, tensorDataToBytes, type InferenceRequest, type InferenceResponse, type Parameters } from '../../src/core/index.js';
import { messageType } from '../../src/server/grpc/grpc-messages.js';
import { parametersToWire } from '../../src/server/grpc/infer-parameters.js';
import { writeInferResponse } from '../../src/server/grpc/infer-response-writer.js';


const unaryType = messageType('ModelInferResponse');
const streamType = messageType('ModelStreamInferResponse');
const asObject = (type: typeof unaryType, bytes: Uint8Array) => type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: true });

/** What protobufjs makes of the same response: the reference. */
function reference(response: InferenceResponse, request: InferenceRequest, parameters: Parameters | undefined): object {
  const shared = new Set((request.outputs ?? []).filter((o) => o.parameters?.['shared_memory_region'] !== undefined).map((o) => o.name));
  const message: Record<string, unknown> = {
    model_name: response.model,
    model_version: response.version,
    outputs: response.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
    raw_output_contents: response.outputs.map((o) => (shared.has(o.name) ? new Uint8Array(0) : tensorDataToBytes(o.datatype, o.data))),
  };
  if (response.id) message.id = response.id;
  if (parameters) message.parameters = parametersToWire(parameters);
  return message;
}

const plainRequest: InferenceRequest = { model: 'm', inputs: [] };

const responses: Array<[string, InferenceResponse, InferenceRequest]> = [
  ['one FP32 output', { model: 'silero_vad', version: '1', outputs: [{ name: 'output', datatype: 'FP32', shape: [1, 1], data: Float32Array.from([0.25]) }] }, plainRequest],
  [
    'id, every parameter kind, BYTES and empty outputs, non-ASCII names',
    {
      model: 'mödel-名',
      version: '',
      id: 'request-ü',
      parameters: { sequence_id: 4, negative: -5, big: 2 ** 40, ok: false, ratio: 0.5, who: 'mé', huge: 1e300 },
      outputs: [
        { name: 'S', datatype: 'BYTES', shape: [2], data: packBytes(['hi', '']) },
        { name: 'E', datatype: 'INT32', shape: [0, 3], data: new Int32Array(0) },
        { name: 'scalar', datatype: 'INT64', shape: [], data: BigInt64Array.from([7n]) },
        { name: 'wide', datatype: 'UINT8', shape: [300], data: new Uint8Array(300).fill(9) },
      ],
    },
    plainRequest,
  ],
  [
    'an output written into shared memory has an empty raw entry',
    {
      model: 'm',
      version: '2',
      outputs: [
        { name: 'A', datatype: 'FP32', shape: [1, 2], data: Float32Array.from([1, 2]) },
        { name: 'B', datatype: 'FP32', shape: [1, 2], data: Float32Array.from([3, 4]) },
      ],
    },
    { model: 'm', inputs: [], outputs: [{ name: 'A', parameters: { shared_memory_region: 'r', shared_memory_byte_size: 8 } }, { name: 'B' }] },
  ],
];

describe('writeInferResponse', () => {
  for (const [label, response, request] of responses) {
    it(`unary: ${label}`, () => {
      const expected = asObject(unaryType, unaryType.encode(unaryType.fromObject(reference(response, request, response.parameters))).finish());
      expect(asObject(unaryType, writeInferResponse(response, request, false))).toEqual(expected);
    });

    it(`stream, final flag set and overriding the model's: ${label}`, () => {
      for (const final of [true, false]) {
        const parameters = { ...response.parameters, triton_final_response: final };
        const withModelsFlag = { ...response, parameters: { ...response.parameters, triton_final_response: 'the model said so' } };
        const expected = asObject(streamType, streamType.encode(streamType.fromObject({ infer_response: reference(response, request, parameters) })).finish());
        expect(asObject(streamType, writeInferResponse(withModelsFlag, request, true, final))).toEqual(expected);
      }
    });
  }

  it('refuses an output shape with a negative dimension instead of writing a wrong varint', () => {
    const response: InferenceResponse = { model: 'm', version: '1', outputs: [{ name: 'X', datatype: 'FP32', shape: [-1], data: new Float32Array(0) }] };
    expect(() => writeInferResponse(response, plainRequest, false)).toThrow(/negative dimension/);
  });
});
