import type { Datatype } from './datatype.js';
import { isPackedBytes, type PackedBytes } from './packed-bytes.js';

export type NumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/**
 * Element storage: a typed array for fixed-size types (BOOL as 0/1 bytes, FP16 and
 * BF16 as their raw 16-bit patterns), the elements packed in one buffer for BYTES.
 */
export type TensorData = NumericArray | PackedBytes;

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
}

type TypedArrayConstructor = { new (length: number): NumericArray; BYTES_PER_ELEMENT: number };

const ARRAY_TYPE: Record<Exclude<Datatype, 'BYTES'>, TypedArrayConstructor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
  BF16: Uint16Array,
};

export function typedArrayFor(datatype: Exclude<Datatype, 'BYTES'>): TypedArrayConstructor {
  return ARRAY_TYPE[datatype];
}

export function allocateTensorData(datatype: Datatype, length: number): TensorData {
  // Zeroed, `length` BYTES elements are that many 4-byte lengths of 0: empty strings.
  if (datatype === 'BYTES') return { count: length, bytes: new Uint8Array(length * 4) };
  return new ARRAY_TYPE[datatype](length);
}

/** A copy of `data` in a buffer of its own. */
export function copyTensorData(data: TensorData): TensorData {
  return isPackedBytes(data) ? { count: data.count, bytes: data.bytes.slice() } : data.slice();
}

/** The number of elements `data` holds. */
export function storedElementCount(data: TensorData): number {
  return isPackedBytes(data) ? data.count : data.length;
}
