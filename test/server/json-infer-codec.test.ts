import { describe, expect, it } from 'vitest';
import { bf16Bits, fp16Bits, InferenceError, packBytes, storedElementCount, type Datatype, type Tensor } from '../../src/core/index.js';
import { inputDataNumberTokens } from '../../src/server/http/exact-integer-scanner.js';
import { decodeJsonData, encodeJsonData } from '../../src/server/http/json-infer-codec.js';

/** Decodes `data` the way the request decoder does: from the text, with exact tokens for 64-bit integers. */
function decodeText(datatype: Datatype, shape: number[], dataText: string): ReturnType<typeof decodeJsonData> {
  const text = `{"inputs":[{"name":"X","datatype":"${datatype}","shape":[${shape}],"data":${dataText}}]}`;
  const parsed = JSON.parse(text);
  return decodeJsonData('X', datatype, shape, parsed.inputs[0].data, () => inputDataNumberTokens(text, 0));
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(InferenceError);
    expect((err as InferenceError).code).toBe('INVALID_ARG');
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

const tensor = (datatype: Datatype, data: Tensor['data']): Tensor => ({ name: 'Y', datatype, shape: [(data as ArrayLike<unknown>).length], data });

describe('JSON data: range checks per datatype, naming input and position', () => {
  const cases: [Datatype, string, string][] = [
    ['UINT8', '[1,300]', 'value 300 at position 1 is not an integer in [0, 255] as UINT8 requires'],
    ['UINT8', '[-1,0]', 'value -1 at position 0 is not an integer in [0, 255] as UINT8 requires'],
    ['UINT16', '[65536,0]', 'value 65536 at position 0 is not an integer in [0, 65535] as UINT16 requires'],
    ['UINT32', '[0,4294967296]', 'value 4294967296 at position 1 is not an integer in [0, 4294967295] as UINT32 requires'],
    ['INT8', '[0,128]', 'value 128 at position 1 is not an integer in [-128, 127] as INT8 requires'],
    ['INT16', '[-32769,0]', 'value -32769 at position 0 is not an integer in [-32768, 32767] as INT16 requires'],
    ['INT32', '[1.5,0]', 'value 1.5 at position 0 is not an integer in [-2147483648, 2147483647] as INT32 requires'],
    ['INT64', '[0,9223372036854775808]', 'value 9223372036854775808 at position 1 is not an integer in [-9223372036854775808, 9223372036854775807] as INT64 requires'],
    ['INT64', '[0,-9223372036854775809]', 'value -9223372036854775809 at position 1 is not an integer in [-9223372036854775808, 9223372036854775807] as INT64 requires'],
    ['INT64', '[1e19,0]', 'value 10000000000000000000 at position 0 is not an integer in [-9223372036854775808, 9223372036854775807] as INT64 requires'],
    ['UINT64', '[18446744073709551616,0]', 'value 18446744073709551616 at position 0 is not an integer in [0, 18446744073709551615] as UINT64 requires'],
    ['UINT64', '[-1,0]', 'value -1 at position 0 is not an integer in [0, 18446744073709551615] as UINT64 requires'],
    ['FP32', '[1,"x"]', 'value "x" at position 1 is not a number as FP32 requires'],
    ['FP32', '[1e39,0]', 'value 1e+39 at position 0 is not within ±3.4028234663852886e38, the finite range of FP32'],
    ['FP16', '[65520,0]', 'value 65520 at position 0 is not within ±65504, the finite range of FP16'],
    ['BF16', '[0,-3.4e38]', 'value -3.4e+38 at position 1 is not within ±3.3895313892515355e38, the finite range of BF16'],
    ['FP64', '[0,null]', 'value null at position 1 is not a number as FP64 requires'],
    ['BOOL', '[true,1]', 'value 1 at position 1 is not a boolean (true or false) as BOOL requires'],
    ['BYTES', '["a",2]', 'value 2 at position 1 is not a string as BYTES requires'],
  ];
  it.each(cases)('%s %s', (datatype, data, message) => {
    expect(errorOf(() => decodeText(datatype, [2], data))).toBe(`input 'X': ${message}`);
  });

  it('counts nested values against the shape', () => {
    expect(errorOf(() => decodeText('INT32', [2, 2], '[[1,2],[3]]'))).toBe("input 'X': expected 4 values for shape [2,2], got 3");
    expect(Array.from(decodeText('INT32', [2, 2], '[[1,2],[3,4]]') as Int32Array)).toEqual([1, 2, 3, 4]);
  });
});

describe('JSON data: 64-bit integers keep every digit', () => {
  it('reads INT64 and UINT64 beyond 2^53 exactly, in nested data too', () => {
    const int64 = decodeText('INT64', [2, 2], '[[-9223372036854775808, 9007199254740993], [ 9223372036854775807 ,-1]]');
    expect(Array.from(int64 as BigInt64Array)).toEqual([-9223372036854775808n, 9007199254740993n, 9223372036854775807n, -1n]);
    const uint64 = decodeText('UINT64', [3], '[18446744073709551615,9007199254740993,0]');
    expect(Array.from(uint64 as BigUint64Array)).toEqual([18446744073709551615n, 9007199254740993n, 0n]);
  });

  it('writes them back exactly', () => {
    const values = BigInt64Array.from([-9223372036854775808n, 9007199254740993n, 0n]);
    expect(encodeJsonData(tensor('INT64', values))).toBe('[-9223372036854775808,9007199254740993,0]');
    expect(encodeJsonData(tensor('UINT64', BigUint64Array.from([18446744073709551615n])))).toBe('[18446744073709551615]');
  });

  it('finds the right input among several, whatever the key order, escapes and duplicates', () => {
    const text =
      '{"id":"x\\"]","outputs":[{"name":"data"}],"inputs":[{"name":"A","data":[1,2],"shape":[2]},' +
      '{"shape":[2],"d\\u0061ta":[0,0],"data":[9007199254740993, -9223372036854775807],"name":"B"}],"parameters":{"data":[5]}}';
    expect(inputDataNumberTokens(text, 1)).toEqual(['9007199254740993', '-9223372036854775807']);
    expect(inputDataNumberTokens(text, 0)).toEqual(['1', '2']);
    expect(inputDataNumberTokens(text, 2)).toBeUndefined();
  });
});

describe('JSON data: FP16 and BF16 convert exactly', () => {
  it('rounds each JSON number once to the nearest 16-bit value', () => {
    const values = [0.1, -2.5, 65504, 1 + 2 ** -11 + 2 ** -40, 2 ** -24];
    expect(Array.from(decodeText('FP16', [5], JSON.stringify(values)) as Uint16Array)).toEqual(values.map(fp16Bits));
    expect(Array.from(decodeText('BF16', [5], JSON.stringify(values)) as Uint16Array)).toEqual(values.map(bf16Bits));
    expect(Array.from(decodeText('FP16', [1], '[-0]') as Uint16Array)).toEqual([0x8000]);
  });

  it('writes the numbers the bits hold, which read back to the same bits', () => {
    const bits = Uint16Array.from([0x3c00, 0x7bff, 0x0001, 0xc000, 0x3555]);
    const fp16Text = encodeJsonData(tensor('FP16', bits));
    expect(fp16Text).toBe('[1,65504,5.960464477539063e-8,-2,0.333251953125]');
    expect(Array.from(decodeText('FP16', [5], fp16Text) as Uint16Array)).toEqual(Array.from(bits));
    const bf16Text = encodeJsonData(tensor('BF16', bits));
    expect(Array.from(decodeText('BF16', [5], bf16Text) as Uint16Array)).toEqual(Array.from(bits));
  });
});

describe('JSON data: the other types', () => {
  it('round-trips every datatype through encode and decode', () => {
    const samples: [Datatype, Tensor['data']][] = [
      ['BOOL', Uint8Array.from([1, 0, 1])],
      ['UINT8', Uint8Array.from([0, 255])],
      ['UINT16', Uint16Array.from([0, 65535])],
      ['UINT32', Uint32Array.from([0, 4294967295])],
      ['INT8', Int8Array.from([-128, 127])],
      ['INT16', Int16Array.from([-32768, 32767])],
      ['INT32', Int32Array.from([-2147483648, 2147483647])],
      ['FP32', Float32Array.from([0.1, -3.4028234663852886e38, 1.401298464324817e-45])],
      ['FP64', Float64Array.from([Math.PI, -Number.MAX_VALUE, Number.MIN_VALUE])],
      ['BYTES', packBytes(['', 'héllo', '🌊'])],
    ];
    for (const [datatype, data] of samples) {
      const length = storedElementCount(data);
      expect(decodeText(datatype, [length], encodeJsonData(tensor(datatype, data))), datatype).toEqual(data);
    }
  });

  it('writes NaN and infinities as null, as JSON.stringify does', () => {
    expect(encodeJsonData(tensor('FP32', Float32Array.from([1, NaN, -Infinity])))).toBe('[1,null,null]');
  });
});
