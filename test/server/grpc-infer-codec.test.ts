/** The gRPC inference codec on its own: protobuf bytes → InferenceRequest, InferenceResponse → protobuf bytes. */
import { describe, expect, it } from 'vitest';
import { byteElementStrings, InferenceError, packBytes, type InferenceResponse, type PackedBytes } from '../../src/core/index.js';
import { messageType } from '../../src/server/grpc/grpc-messages.js';
import { decodeModelInferRequest, encodeModelInferResponse, encodeStreamInferError } from '../../src/server/grpc/infer-codec.js';
import { SharedMemoryManager } from '../../src/server/shared-memory/index.js';

const encodeRequest = (request: object) => messageType('ModelInferRequest').encode(messageType('ModelInferRequest').fromObject(request)).finish();
const decode = (request: object) => decodeModelInferRequest(encodeRequest(request), new SharedMemoryManager({ allowClientShm: true }));

function errorOf(request: object): InferenceError {
  try {
    decode(request);
  } catch (err) {
    expect(err).toBeInstanceOf(InferenceError);
    return err as InferenceError;
  }
  throw new Error('expected the request to be refused');
}

const input = (datatype: string, shape: number[], contents?: object) => ({ model_name: 'm', inputs: [{ name: 'X', datatype, shape, contents }] });

describe('typed contents', () => {
  const cases: Array<[string, object, unknown[]]> = [
    ['BOOL', { bool_contents: [true, false, true] }, [1, 0, 1]],
    ['INT8', { int_contents: [-128, 0, 127] }, [-128, 0, 127]],
    ['INT16', { int_contents: [-32768, 1, 32767] }, [-32768, 1, 32767]],
    ['INT32', { int_contents: [-2147483648, 2, 2147483647] }, [-2147483648, 2, 2147483647]],
    ['INT64', { int64_contents: ['-9223372036854775808', '5', '9223372036854775807'] }, [-9223372036854775808n, 5n, 9223372036854775807n]],
    ['UINT8', { uint_contents: [0, 128, 255] }, [0, 128, 255]],
    ['UINT16', { uint_contents: [0, 1, 65535] }, [0, 1, 65535]],
    ['UINT32', { uint_contents: [0, 1, 4294967295] }, [0, 1, 4294967295]],
    ['UINT64', { uint64_contents: ['0', '1', '18446744073709551615'] }, [0n, 1n, 18446744073709551615n]],
    ['FP32', { fp32_contents: [1.5, -0.25, 3] }, [1.5, -0.25, 3]],
    ['FP64', { fp64_contents: [Math.PI, -1e300, 0] }, [Math.PI, -1e300, 0]],
  ];

  it.each(cases)('%s is read from its field into its typed array', (datatype, contents, expected) => {
    const request = decode(input(datatype, [3], contents));
    expect(request.inputs[0]).toMatchObject({ name: 'X', datatype, shape: [3] });
    expect(Array.from(request.inputs[0].data as ArrayLike<unknown>)).toEqual(expected);
  });

  it('BYTES elements are copied out of the message', () => {
    const request = decode(input('BYTES', [2], { bytes_contents: [Buffer.from('ab'), Buffer.from('')] }));
    expect(byteElementStrings(request.inputs[0].data as PackedBytes)).toEqual(['ab', '']);
  });

  it('refuses values outside a narrow integer type, naming the position', () => {
    expect(errorOf(input('INT8', [2], { int_contents: [1, 300] })).message).toBe(
      `input 'X': value 300 at position 1 is not an integer in [-128, 127] as INT8 requires`,
    );
    expect(errorOf(input('UINT16', [1], { uint_contents: [70000] })).message).toBe(
      `input 'X': value 70000 at position 0 is not an integer in [0, 65535] as UINT16 requires`,
    );
  });

  it('refuses the wrong contents field, a count that does not fit the shape, and typed FP16', () => {
    expect(errorOf(input('FP32', [2], { int_contents: [1, 2] })).message).toBe(
      `unexpected explicit tensor data for input tensor 'X' for model 'm' in 'int_contents'; datatype 'FP32' takes its values in 'fp32_contents'`,
    );
    expect(errorOf(input('FP32', [1, 3], { fp32_contents: [1, 2] })).message).toBe(`input 'X': expected 3 values for shape [1,3], got 2 in 'fp32_contents'`);
    expect(errorOf(input('FP16', [1], { fp32_contents: [1] })).message).toBe(
      `input 'X': FP16 has no typed contents field; send its values in raw_input_contents`,
    );
  });

  it('refuses an input without data, an unknown datatype and a negative dimension', () => {
    expect(errorOf(input('FP32', [2])).message).toBe(`unable to find data for input tensor 'X' for model 'm' in request.`);
    expect(errorOf(input('FP33', [2], { fp32_contents: [1, 2] })).message).toBe(`input 'X': unknown datatype 'FP33'`);
    expect(errorOf(input('FP32', [-1, 2], { fp32_contents: [1, 2] })).message).toBe(`input 'X': shape [-1,2] must hold non-negative integers`);
    expect(decode(input('FP32', [0, 4])).inputs[0].data).toHaveLength(0);
  });
});

describe('raw contents', () => {
  it('takes one entry per input in order, FP16 included', () => {
    const request = decode({
      model_name: 'm',
      inputs: [
        { name: 'A', datatype: 'FP16', shape: [2] },
        { name: 'B', datatype: 'INT32', shape: [1] },
      ],
      raw_input_contents: [Buffer.from([0x00, 0x3c, 0x00, 0xc0]), Buffer.from([7, 0, 0, 0])],
    });
    expect(Array.from(request.inputs[0].data as Uint16Array)).toEqual([0x3c00, 0xc000]);
    expect(Array.from(request.inputs[1].data as Int32Array)).toEqual([7]);
  });

  it('refuses a count of raw entries that differs from the inputs, and contents next to raw', () => {
    const two = [
      { name: 'A', datatype: 'INT32', shape: [1] },
      { name: 'B', datatype: 'INT32', shape: [1] },
    ];
    expect(errorOf({ model_name: 'm', inputs: two, raw_input_contents: [Buffer.alloc(4)] }).message).toBe(
      `model 'm': the request has 2 inputs but 1 raw_input_contents; give raw contents for every input, in the order of 'inputs', or for none`,
    );
    expect(
      errorOf({
        model_name: 'simple',
        inputs: [{ ...two[0], name: 'INPUT0', contents: { int_contents: [1] } }, two[1]],
        raw_input_contents: [Buffer.alloc(4), Buffer.alloc(4)],
      }).message,
    ).toBe(`contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'simple'`);
  });
});

describe('request fields and parameters', () => {
  it('keeps id and version, the requested outputs and every kind of parameter', () => {
    const request = decode({
      model_name: 'm',
      model_version: '3',
      id: 'req-1',
      inputs: [{ name: 'X', datatype: 'INT32', shape: [1], contents: { int_contents: [1] }, parameters: { note: { string_param: 'kept' } } }],
      outputs: [{ name: 'Y', parameters: { top: { int64_param: 2 } } }, { name: 'Z' }],
      parameters: {
        flag: { bool_param: true },
        count: { int64_param: '-9007199254740991' },
        label: { string_param: 'x' },
        ratio: { double_param: 0.25 },
        big: { uint64_param: '9007199254740991' },
      },
    });
    expect(request.model).toBe('m');
    expect(request.version).toBe('3');
    expect(request.id).toBe('req-1');
    expect(request.outputs).toEqual([{ name: 'Y', parameters: { top: 2 } }, { name: 'Z' }]);
    expect(request.parameters).toEqual({ flag: true, count: -9007199254740991, label: 'x', ratio: 0.25, big: 9007199254740991 });
  });

  it('leaves id, version, outputs and parameters out when the request does not give them', () => {
    const request = decode(input('INT32', [1], { int_contents: [1] }));
    expect(request).not.toHaveProperty('id');
    expect(request).not.toHaveProperty('version');
    expect(request).not.toHaveProperty('outputs');
    expect(request).not.toHaveProperty('parameters');
  });

  it('refuses a parameter without a value or beyond what a number holds exactly', () => {
    expect(errorOf({ ...input('INT32', [1], { int_contents: [1] }), parameters: { empty: {} } }).message).toBe(
      `request: parameter 'empty' has no value; set one of bool_param, int64_param, string_param, double_param or uint64_param`,
    );
    expect(errorOf({ ...input('INT32', [1], { int_contents: [1] }), parameters: { huge: { int64_param: '9007199254740993' } } }).message).toBe(
      `request: parameter 'huge' has the value 9007199254740993, beyond the ±(2^53-1) that Nereid holds exactly`,
    );
  });

  it('passes classification on and reads shared-memory inputs from registered regions only', () => {
    const classified = decode({ ...input('INT32', [1], { int_contents: [1] }), outputs: [{ name: 'Y', parameters: { classification: { int64_param: 3 } } }] });
    expect(classified.outputs).toEqual([{ name: 'Y', parameters: { classification: 3 } }]);
    const shm = errorOf({
      model_name: 'm',
      inputs: [{ name: 'X', datatype: 'INT32', shape: [1], parameters: { shared_memory_region: { string_param: 'r' }, shared_memory_byte_size: { int64_param: 4 } } }],
    });
    expect(shm.code).toBe('NOT_FOUND');
    expect(shm.message).toBe(`input 'X': Unable to find shared memory region: 'r'`);
  });

  it('refuses bytes that are not a ModelInferRequest', () => {
    const error = (() => {
      try {
        decodeModelInferRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff]), new SharedMemoryManager({ allowClientShm: true }));
      } catch (err) {
        return err as InferenceError;
      }
      throw new Error('expected an error');
    })();
    expect(error.code).toBe('INVALID_ARG');
    expect(error.message).toMatch(/^the request is not a valid ModelInferRequest message: /);
  });
});

describe('responses', () => {
  const response: InferenceResponse = {
    model: 'm',
    version: '1',
    id: 'r',
    parameters: { sequence_id: 4, ok: true, ratio: 0.5, who: 'me' },
    outputs: [
      { name: 'F', datatype: 'FP32', shape: [1, 2], data: Float32Array.from([1.5, -2]) },
      { name: 'S', datatype: 'BYTES', shape: [2], data: packBytes(['hi', '']) },
    ],
  };

  it('describes the outputs and carries their bytes in raw_output_contents', () => {
    const type = messageType('ModelInferResponse');
    const decoded = type.toObject(type.decode(encodeModelInferResponse(response, { model: 'm', inputs: [] })), { longs: Number, defaults: true }) as any;
    expect(decoded.model_name).toBe('m');
    expect(decoded.model_version).toBe('1');
    expect(decoded.id).toBe('r');
    expect(decoded.parameters).toEqual({
      sequence_id: { int64_param: 4 },
      ok: { bool_param: true },
      ratio: { double_param: 0.5 },
      who: { string_param: 'me' },
    });
    expect(decoded.outputs.map((o: any) => [o.name, o.datatype, o.shape])).toEqual([
      ['F', 'FP32', [1, 2]],
      ['S', 'BYTES', [2]],
    ]);
    expect(Array.from(decoded.raw_output_contents[0])).toEqual(Array.from(new Uint8Array(Float32Array.from([1.5, -2]).buffer)));
    expect(Array.from(decoded.raw_output_contents[1])).toEqual([2, 0, 0, 0, 0x68, 0x69, 0, 0, 0, 0]);
  });

  it('names the failed request in a stream error', () => {
    const type = messageType('ModelStreamInferResponse');
    const decoded = type.toObject(
      type.decode(encodeStreamInferError('boom', { model_name: 'm', model_version: '2', id: 'q' } as never)),
    ) as any;
    expect(decoded.error_message).toBe('boom');
    expect(decoded.infer_response).toMatchObject({ model_name: 'm', model_version: '2', id: 'q' });
  });
});
