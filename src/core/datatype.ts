import { InferenceError } from './errors.js';
/** KServe v2 tensor datatypes, their sizes and their config.pbtxt (`TYPE_*`) names. */

export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BF16', 'BYTES',
] as const;

export type Datatype = (typeof DATATYPES)[number];

const BYTE_SIZE: Record<Datatype, number> = {
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8,
  FP16: 2, FP32: 4, FP64: 8, BF16: 2, BYTES: 0,
};

export function isDatatype(name: string): name is Datatype {
  return Object.prototype.hasOwnProperty.call(BYTE_SIZE, name);
}

/** Bytes per element; 0 for BYTES, whose elements have variable length. */
export function byteSize(datatype: Datatype): number {
  return BYTE_SIZE[datatype];
}

/** `TYPE_FP32` → `FP32`; config.pbtxt spells BYTES as `TYPE_STRING`. */
export function datatypeFromConfig(configType: string): Datatype | undefined {
  if (configType === 'TYPE_STRING') return 'BYTES';
  const name = configType.startsWith('TYPE_') ? configType.slice(5) : configType;
  return isDatatype(name) && name !== 'BYTES' ? name : undefined;
}

export type ConfigDatatype = 'TYPE_STRING' | `TYPE_${Exclude<Datatype, 'BYTES'>}`;

export function datatypeToConfig(datatype: Datatype): ConfigDatatype {
  return datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

/** Triton's limit on a tensor's element count and byte size: INT64_MAX. */
const INT64_MAX = (1n << 63n) - 1n;

/**
 * Checks that a request tensor's shape (integer dims ≥ 0) has an element count and a
 * byte size that can be computed exactly, with Triton's sentences: an element count
 * beyond INT64_MAX "causes total element count to exceed maximum size of …", a byte
 * size beyond it is a "byte size overflow". Counts past 2^53 that fit in 64 bits are
 * refused as well: no buffer could hold them. `label` names the tensor, e.g. `input 'X'`.
 */
export function checkShapeSize(label: string, datatype: Datatype, shape: readonly number[]): void {
  if (Number.isSafeInteger(elementCount(shape) * Math.max(1, BYTE_SIZE[datatype]))) return;
  if (shape.includes(0)) return;
  let count = 1n;
  for (const d of shape) {
    count *= BigInt(d);
    if (count > INT64_MAX) {
      throw new InferenceError(
        'INVALID_ARG',
        `${label}: shape [${shape.join(',')}] causes total element count to exceed maximum size of ${INT64_MAX}`,
      );
    }
  }
  const bytes = count * BigInt(Math.max(1, BYTE_SIZE[datatype]));
  throw new InferenceError(
    'INVALID_ARG',
    bytes > INT64_MAX
      ? `byte size overflow for ${label}: shape [${shape.join(',')}] of ${datatype} needs ${bytes} bytes, more than ${INT64_MAX}`
      : `byte size overflow for ${label}: shape [${shape.join(',')}] of ${datatype} needs ${bytes} bytes, more than this server can hold (${Number.MAX_SAFE_INTEGER})`,
  );
}

/** Number of elements of a shape; dims must be concrete (no -1). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
