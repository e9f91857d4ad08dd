/**
 * A planned tensor in the raw layout of gRPC's raw_input_contents, HTTP binary
 * data and shared memory: elements in row-major order, little-endian, each BYTES
 * element a 4-byte little-endian length and its bytes.
 */
import { bf16Bits, fp16Bits, InferenceError, type Datatype } from '../core/index.js';
import type { PlannedTensor } from './request-plan.js';

export function rawTensorBytes(tensor: PlannedTensor): Buffer {
  const values = tensor.values;
  const typed = (datatype: Datatype): ArrayBufferView => {
    const numbers = values as number[];
    switch (datatype) {
      case 'BOOL': return Uint8Array.from(values as boolean[], (v) => (v ? 1 : 0));
      case 'UINT8': return Uint8Array.from(numbers);
      case 'INT8': return Int8Array.from(numbers);
      case 'UINT16': return Uint16Array.from(numbers);
      case 'INT16': return Int16Array.from(numbers);
      case 'UINT32': return Uint32Array.from(numbers);
      case 'INT32': return Int32Array.from(numbers);
      case 'UINT64': return BigUint64Array.from(numbers, (v) => BigInt(v));
      case 'INT64': return BigInt64Array.from(numbers, (v) => BigInt(v));
      case 'FP16': return Uint16Array.from(numbers, fp16Bits);
      case 'BF16': return Uint16Array.from(numbers, bf16Bits);
      case 'FP32': return Float32Array.from(numbers);
      case 'FP64': return Float64Array.from(numbers);
      default: throw new InferenceError('INTERNAL', `no raw encoding for ${datatype}`);
    }
  };
  if (tensor.datatype === 'BYTES') {
    const parts: Buffer[] = [];
    for (const text of values as string[]) {
      const bytes = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      parts.push(length, bytes);
    }
    return Buffer.concat(parts);
  }
  // Typed arrays are little-endian on every platform Node supports.
  const view = typed(tensor.datatype);
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
