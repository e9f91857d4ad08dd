/** InferTensorContents, the typed (non-raw) form of a tensor's values → tensor storage. */
import {
  elementCount,
  InferenceError,
  type Datatype,
  type TensorData,
} from '../../core/index.js';
import { int64ToBigInt, type InferTensorContentsMessage } from './grpc-messages.js';

type ContentsField = keyof InferTensorContentsMessage;

const CONTENTS_FIELDS: readonly ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents',
  'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
];

/** The field that carries each datatype; FP16 and BF16 have none and travel only as raw contents. */
const FIELD_OF: Partial<Record<Datatype, ContentsField>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** Narrow integer types ride in 32-bit fields; values outside the type's range are refused, not truncated. */
const NARROW_RANGE: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
};

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

function valueCount(contents: InferTensorContentsMessage, field: ContentsField): number {
  return field === 'bytes_contents' ? contents.bytes_contents.count : contents[field].length;
}

/** True when any field of `contents` holds values: what Triton calls "has contents". */
export function hasContents(contents: InferTensorContentsMessage | null | undefined): contents is InferTensorContentsMessage {
  return !!contents && CONTENTS_FIELDS.some((field) => valueCount(contents, field) > 0);
}

function checkRange(name: string, datatype: Datatype, values: readonly number[]): void {
  const range = NARROW_RANGE[datatype];
  if (!range) return;
  const [min, max] = range;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value < min || value > max) {
      throw invalid(`input '${name}': value ${value} at position ${i} is not an integer in [${min}, ${max}] as ${datatype} requires`);
    }
  }
}

/** Copies the field matching `datatype` into fresh storage, after checking that it is the only one used and that its count fits `shape`. */
export function tensorDataFromContents(
  model: string,
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  contents: InferTensorContentsMessage,
): TensorData {
  const field = FIELD_OF[datatype];
  if (!field) {
    throw invalid(`input '${name}': ${datatype} has no typed contents field; send its values in raw_input_contents`);
  }
  for (const other of CONTENTS_FIELDS) {
    if (other !== field && valueCount(contents, other) > 0) {
      throw invalid(
        `unexpected explicit tensor data for input tensor '${name}' for model '${model}' in '${other}'; datatype '${datatype}' takes its values in '${field}'`,
      );
    }
  }
  const expected = elementCount(shape);
  const count = valueCount(contents, field);
  if (count !== expected) {
    throw invalid(`input '${name}': expected ${expected} values for shape [${shape.join(',')}], got ${count} in '${field}'`);
  }
  switch (datatype) {
    case 'BOOL':
      return Uint8Array.from(contents.bool_contents, (v) => (v ? 1 : 0));
    case 'INT8':
      checkRange(name, datatype, contents.int_contents);
      return Int8Array.from(contents.int_contents);
    case 'INT16':
      checkRange(name, datatype, contents.int_contents);
      return Int16Array.from(contents.int_contents);
    case 'INT32':
      return Int32Array.from(contents.int_contents);
    case 'UINT8':
      checkRange(name, datatype, contents.uint_contents);
      return Uint8Array.from(contents.uint_contents);
    case 'UINT16':
      checkRange(name, datatype, contents.uint_contents);
      return Uint16Array.from(contents.uint_contents);
    case 'UINT32':
      return Uint32Array.from(contents.uint_contents);
    case 'INT64':
      return BigInt64Array.from(contents.int64_contents, (v) => int64ToBigInt(v, false));
    case 'UINT64':
      return BigUint64Array.from(contents.uint64_contents, (v) => int64ToBigInt(v, true));
    case 'FP32':
      return Float32Array.from(contents.fp32_contents);
    case 'FP64':
      return Float64Array.from(contents.fp64_contents);
    default:
      // BYTES: already packed into a buffer of their own as the message was read.
      return contents.bytes_contents;
  }
}
