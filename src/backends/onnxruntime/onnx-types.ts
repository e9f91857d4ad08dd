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

/**
 * onnxruntime-node reports only "Unsupported data type: 16" when a model's input or
 * output has an element type it has no JavaScript tensor for; the most common is
 * bfloat16. Says which type, that the onnxruntime backend is what refuses it, and
 * what to do.
 */
export function explainLoadError(message: string): string {
  const match = /Unsupported data type: (\d+)/.exec(message);
  if (!match) return message;
  const type = match[1] === '16' ? 'BF16' : `ONNX element type ${match[1]}`;
  return (
    `${type} is not supported by the onnxruntime backend: the model has an input or output of that type, ` +
    `which onnxruntime-node cannot pass between JavaScript and ONNX Runtime (${message}); ` +
    `give the model FP16 or FP32 inputs and outputs (a Cast inside the graph keeps ${type} compute)`
  );
}
