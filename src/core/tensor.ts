import type { Datatype } from './datatype.js';

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
 * BF16 as their raw 16-bit patterns), an array of byte strings for BYTES.
 */
export type TensorData = NumericArray | Uint8Array[];

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
  if (datatype === 'BYTES') return new Array<Uint8Array>(length);
  return new ARRAY_TYPE[datatype](length);
}
