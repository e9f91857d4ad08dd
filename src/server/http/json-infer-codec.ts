/**
 * Tensor values in the KServe v2 JSON format: a `data` array (flat or nested) →
 * tensor storage, and tensor storage → the text of a `data` array. Each value is
 * checked once, while it is copied into its typed array; every message names the
 * input and the position.
 */
import {
  allocateTensorData,
  bf16Bits,
  bf16Value,
  byteElementStrings,
  elementCount,
  fp16Bits,
  fp16Value,
  InferenceError,
  overflowsBf16,
  overflowsFp16,
  PackedBytesWriter,
  type Datatype,
  type NumericArray,
  type PackedBytes,
  type Tensor,
  type TensorData,
} from '../../core/index.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

type IntegerDatatype = 'UINT8' | 'UINT16' | 'UINT32' | 'INT8' | 'INT16' | 'INT32';

const INTEGER_RANGE: Record<IntegerDatatype, [number, number]> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

const INT64_RANGE: Record<'INT64' | 'UINT64', [bigint, bigint]> = {
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT64: [0n, 2n ** 64n - 1n],
};

const FLOAT_MAX: Partial<Record<Datatype, { overflows(value: number): boolean; max: string }>> = {
  FP16: { overflows: overflowsFp16, max: '65504' },
  BF16: { overflows: overflowsBf16, max: '3.3895313892515355e38' },
  FP32: { overflows: (value) => Number.isFinite(value) && !Number.isFinite(Math.fround(value)), max: '3.4028234663852886e38' },
};

/**
 * The number tokens of this input's `data` exactly as the client wrote them; asked
 * for only when a 64-bit integer is beyond what a double holds exactly.
 */
export type ExactNumberTokens = () => string[] | undefined;

/** A value as an error message quotes it: its JSON, cut short when long. */
function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

/** Makes a checked setter that stores element i of a tensor (BYTES: appends it; elements come in order). */
function elementWriter(
  datatype: Datatype,
  data: NumericArray | PackedBytesWriter,
  inputName: string,
  exactTokens: ExactNumberTokens | undefined,
): (value: unknown, index: number) => void {
  const fail = (value: unknown, index: number, expected: string) =>
    invalid(`input '${inputName}': value ${describe(value)} at position ${index} is not ${expected}`);
  const numeric = data as NumericArray;
  switch (datatype) {
    case 'BOOL':
      return (value, i) => {
        if (typeof value !== 'boolean') throw fail(value, i, 'a boolean (true or false) as BOOL requires');
        numeric[i] = value ? 1 : 0;
      };
    case 'FP64':
      return (value, i) => {
        if (typeof value !== 'number') throw fail(value, i, 'a number as FP64 requires');
        numeric[i] = value;
      };
    case 'FP32':
    case 'FP16':
    case 'BF16': {
      const { overflows, max } = FLOAT_MAX[datatype]!;
      const toStored = datatype === 'FP16' ? fp16Bits : datatype === 'BF16' ? bf16Bits : (v: number) => v;
      return (value, i) => {
        if (typeof value !== 'number') throw fail(value, i, `a number as ${datatype} requires`);
        if (overflows(value)) throw fail(value, i, `within ±${max}, the finite range of ${datatype}`);
        numeric[i] = toStored(value);
      };
    }
    case 'BYTES': {
      const strings = data as PackedBytesWriter;
      return (value, i) => {
        if (typeof value !== 'string') throw fail(value, i, 'a string as BYTES requires');
        strings.addString(value);
      };
    }
    case 'INT64':
    case 'UINT64': {
      const [min, max] = INT64_RANGE[datatype];
      const expected = `an integer in [${min}, ${max}] as ${datatype} requires`;
      const big = data as BigInt64Array;
      let tokens: string[] | undefined;
      return (value, i) => {
        if (typeof value !== 'number' || !Number.isInteger(value)) throw fail(value, i, expected);
        if (Number.isSafeInteger(value)) {
          if (value < 0 && min === 0n) throw fail(value, i, expected);
          big[i] = BigInt(value);
          return;
        }
        tokens ??= exactTokens?.();
        const token = tokens?.[i];
        // Only plain digits say exactly which integer was meant; 1e19 or 2.0e20 do not.
        if (token === undefined || !/^-?\d+$/.test(token)) throw fail(value, i, expected);
        const exact = BigInt(token);
        if (exact < min || exact > max) throw invalid(`input '${inputName}': value ${token} at position ${i} is not ${expected}`);
        big[i] = exact;
      };
    }
    default: {
      const [min, max] = INTEGER_RANGE[datatype];
      const expected = `an integer in [${min}, ${max}] as ${datatype} requires`;
      return (value, i) => {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw fail(value, i, expected);
        numeric[i] = value;
      };
    }
  }
}

/** Triton's limit on JSON nesting, counted over the whole request document. */
const MAX_JSON_DEPTH = 100;
/** A request's `data` array sits at depth 4: the document, `inputs`, the input object, `data`. */
const DATA_DEPTH = 4;

/**
 * Copies flat or nested `data` into fresh storage; the number of values must equal
 * the shape's element count. The values are counted before any storage is allocated,
 * so a shape that promises more than the body holds costs nothing. `exactTokens`
 * serves 64-bit integers beyond 2^53.
 */
export function decodeJsonData(
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  data: unknown,
  exactTokens?: ExactNumberTokens,
): TensorData {
  if (!Array.isArray(data)) throw invalid(`input '${name}': 'data' must be an array`);
  const expected = elementCount(shape);
  const count = countJsonValues(name, data, DATA_DEPTH);
  if (count !== expected) {
    throw invalid(`input '${name}': expected ${expected} values for shape [${shape.join(',')}], got ${count}`);
  }
  const bytesWriter = datatype === 'BYTES' ? new PackedBytesWriter() : undefined;
  const storage = bytesWriter ?? (allocateTensorData(datatype, expected) as NumericArray);
  const write = elementWriter(datatype, storage, name, exactTokens);
  let index = 0;
  const visit = (values: unknown[]) => {
    for (const value of values) {
      if (Array.isArray(value)) visit(value);
      else write(value, index++);
    }
  };
  visit(data);
  return bytesWriter ? bytesWriter.finish() : (storage as NumericArray);
}

function countJsonValues(name: string, values: unknown[], depth: number): number {
  if (depth > MAX_JSON_DEPTH) throw invalid(`input '${name}': JSON nesting depth exceeds maximum allowed limit (${MAX_JSON_DEPTH})`);
  let count = 0;
  for (const value of values) count += Array.isArray(value) ? countJsonValues(name, value, depth + 1) : 1;
  return count;
}

/**
 * The JSON text of a tensor's `data` array. 64-bit integers are written with every
 * digit (TypedArray join prints BigInts exactly); FP16 and BF16 as the numbers their
 * bits hold; JSON has no NaN or Infinity, so those become null as JSON.stringify writes them.
 */
export function encodeJsonData(tensor: Tensor): string {
  const { data, datatype } = tensor;
  if (datatype === 'BYTES') return JSON.stringify(byteElementStrings(data as PackedBytes));
  const numeric = data as NumericArray;
  if (datatype === 'BOOL') return `[${Array.from(numeric as Uint8Array, (v) => (v ? 'true' : 'false')).join(',')}]`;
  if (datatype === 'FP16' || datatype === 'BF16') {
    const toValue = datatype === 'FP16' ? fp16Value : bf16Value;
    return JSON.stringify(Array.from(numeric as Uint16Array, toValue));
  }
  const text = (numeric as Float32Array).join(',');
  if (text.includes('N') || text.includes('I')) return JSON.stringify(Array.from(numeric as Float32Array));
  return `[${text}]`;
}
