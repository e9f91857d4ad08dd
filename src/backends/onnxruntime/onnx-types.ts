import type { Datatype } from '../../core/index.js';

/** onnxruntime-node tensor type names for each KServe datatype it can hold. */
const ORT_TYPE: Partial<Record<Datatype, string>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const FROM_ORT = new Map(Object.entries(ORT_TYPE).map(([datatype, ort]) => [ort, datatype as Datatype]));

export function ortTypeOf(datatype: Datatype): string | undefined {
  return ORT_TYPE[datatype];
}

export function datatypeOfOrtType(ortType: string): Datatype | undefined {
  return FROM_ORT.get(ortType);
}
