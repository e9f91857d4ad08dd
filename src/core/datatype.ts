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

/** Number of elements of a shape; dims must be concrete (no -1). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
