import { describe, expect, it } from 'vitest';
import { InferenceError, type Datatype, type NumericArray } from '../../src/core/index.js';
import { byteElementStrings, tensorDataFromBytes, tensorDataToBytes, type PackedBytes } from '../../src/core/index.js';

const le = (values: number[], bytesPer: number, write: (view: DataView, offset: number, v: number) => void): Uint8Array => {
  const out = new Uint8Array(values.length * bytesPer);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => write(view, i * bytesPer, v));
  return out;
};

const strings = (...items: string[]): Uint8Array => {
  const encoded = items.map((s) => new TextEncoder().encode(s));
  const out = new Uint8Array(encoded.reduce((n, e) => n + 4 + e.length, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const e of encoded) {
    view.setUint32(offset, e.length, true);
    out.set(e, offset + 4);
    offset += 4 + e.length;
  }
  return out;
};

function errorOf(fn: () => unknown): InferenceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InferenceError);
    return err as InferenceError;
  }
  throw new Error('expected an error');
}

describe('raw tensor bytes', () => {
  const cases: Array<[Datatype, Uint8Array, unknown[]]> = [
    ['BOOL', new Uint8Array([1, 0, 1]), [1, 0, 1]],
    ['UINT8', new Uint8Array([0, 200, 255]), [0, 200, 255]],
    ['INT8', new Uint8Array([0x80, 0xff, 5]), [-128, -1, 5]],
    ['UINT16', le([1, 65535, 300], 2, (v, o, x) => v.setUint16(o, x, true)), [1, 65535, 300]],
    ['INT16', le([-32768, 7, 32767], 2, (v, o, x) => v.setInt16(o, x, true)), [-32768, 7, 32767]],
    ['UINT32', le([4294967295, 0, 12], 4, (v, o, x) => v.setUint32(o, x, true)), [4294967295, 0, 12]],
    ['INT32', le([-2147483648, 1, 2147483647], 4, (v, o, x) => v.setInt32(o, x, true)), [-2147483648, 1, 2147483647]],
    ['INT64', le([-1, 2, 3], 8, (v, o, x) => v.setBigInt64(o, BigInt(x), true)), [-1n, 2n, 3n]],
    ['UINT64', le([1, 2, 3], 8, (v, o, x) => v.setBigUint64(o, BigInt(x), true)), [1n, 2n, 3n]],
    ['FP16', le([0x3c00, 0xc000, 0], 2, (v, o, x) => v.setUint16(o, x, true)), [0x3c00, 0xc000, 0]],
    ['BF16', le([0x3f80, 0x4000, 0], 2, (v, o, x) => v.setUint16(o, x, true)), [0x3f80, 0x4000, 0]],
    ['FP32', le([1.5, -2.25, 1e30], 4, (v, o, x) => v.setFloat32(o, x, true)), [1.5, -2.25, Math.fround(1e30)]],
    ['FP64', le([Math.PI, -0.1, 1e300], 8, (v, o, x) => v.setFloat64(o, x, true)), [Math.PI, -0.1, 1e300]],
  ];

  it.each(cases)('%s decodes to its typed array and encodes back to the same bytes', (datatype, bytes, expected) => {
    const data = tensorDataFromBytes(`input 'X'`, datatype, [1, 3], bytes) as NumericArray;
    expect(Array.from(data as ArrayLike<unknown>)).toEqual(expected);
    expect(Array.from(tensorDataToBytes(datatype, data))).toEqual(Array.from(bytes));
  });

  it('copies unaligned bytes out of a larger buffer and never aliases it', () => {
    const message = new Uint8Array(1 + 8);
    new DataView(message.buffer).setFloat32(1, 3.5, true);
    new DataView(message.buffer).setFloat32(5, -1, true);
    const view = message.subarray(1);
    const data = tensorDataFromBytes(`input 'X'`, 'FP32', [2], view) as Float32Array;
    expect(Array.from(data)).toEqual([3.5, -1]);
    expect(data.buffer).not.toBe(message.buffer);
    message.fill(0);
    expect(Array.from(data)).toEqual([3.5, -1]);
  });

  it('names the tensor, the shape and both sizes when the byte count is wrong', () => {
    const error = errorOf(() => tensorDataFromBytes(`input 'INPUT0'`, 'FP32', [1, 16], new Uint8Array(60)));
    expect(error.code).toBe('INVALID_ARG');
    expect(error.message).toBe(`input 'INPUT0': raw content of 60 bytes does not match shape [1,16] of FP32, which needs 64 bytes`);
  });

  it('reads BYTES as 4-byte little-endian lengths, including empty elements', () => {
    const data = tensorDataFromBytes(`input 'S'`, 'BYTES', [3], strings('hello', '', 'wörld')) as PackedBytes;
    expect(byteElementStrings(data)).toEqual(['hello', '', 'wörld']);
    expect(Array.from(tensorDataToBytes('BYTES', data))).toEqual(Array.from(strings('hello', '', 'wörld')));
  });

  it('refuses BYTES that end early, overrun, or leave bytes over', () => {
    expect(errorOf(() => tensorDataFromBytes(`input 'S'`, 'BYTES', [3], strings('ab', 'cd'))).message).toBe(
      `input 'S': raw BYTES content ends after 2 of the 3 elements that shape [3] needs`,
    );
    expect(errorOf(() => tensorDataFromBytes(`input 'S'`, 'BYTES', [1 << 30, 1 << 20], strings('a'))).message).toBe(
      `input 'S': raw BYTES content of 5 bytes cannot hold the 1125899906842624 elements that shape [1073741824,1048576] needs (4 bytes of length each at least)`,
    );
    const overrun = strings('abc');
    new DataView(overrun.buffer).setUint32(0, 10, true);
    expect(errorOf(() => tensorDataFromBytes(`input 'S'`, 'BYTES', [1], overrun)).message).toBe(
      `input 'S': raw BYTES element 0 declares 10 bytes but only 3 remain`,
    );
    expect(errorOf(() => tensorDataFromBytes(`input 'S'`, 'BYTES', [1], strings('a', 'b'))).message).toBe(
      `input 'S': raw BYTES content has 5 bytes left over after the 1 element(s) of shape [1]`,
    );
  });

  it('accepts an empty tensor with no bytes', () => {
    expect((tensorDataFromBytes(`input 'X'`, 'FP32', [0, 16], new Uint8Array(0)) as Float32Array).length).toBe(0);
    expect(tensorDataFromBytes(`input 'S'`, 'BYTES', [0], new Uint8Array(0))).toEqual({ count: 0, bytes: new Uint8Array(0) });
  });
});
