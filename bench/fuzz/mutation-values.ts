/** Values that tend to break decoders: edges of integer ranges, wrong types, overflowing shapes. */
import type { Random } from './random.js';

/** Written into JSON text as it stands (numbers JSON.stringify cannot produce). */
export const RAW_TOKEN_PREFIX = '\u0000raw:';

export const raw = (token: string) => `${RAW_TOKEN_PREFIX}${token}`;

/** JSON.stringify, then the raw tokens spliced in without quotes. */
export function jsonWithRawTokens(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000raw:([^"]*)"/g, (_, token: string) => token);
}

export const INTERESTING_NUMBERS: readonly unknown[] = [
  0, -1, 1, 2, 7, 15, 16, 17, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2,
  -(2 ** 53), 2 ** 63, 2 ** 64, 1e15, 1e300, -1e300, 0.5, -0.5, 1.5, 3.4e38, 3.5e38, 65504, 65520, Number.MIN_VALUE,
  raw('18446744073709551615'), raw('18446744073709551616'), raw('-9223372036854775809'), raw('9223372036854775807'),
  raw('1e999'), raw('-1e999'), raw('-0'), raw('123456789012345678901234567890'), raw('1E+2'), raw('0.0000001e-400'),
  '1', '', 'abc', true, false, null, [], {}, [1], { a: 1 },
];

export const INTERESTING_SHAPES: readonly unknown[] = [
  [], [0], [1], [1, 0], [0, 16], [1, 16], [2, 16], [9, 16], [100, 16], [1, 15], [1, 17], [1, 16, 1], [16], [-1, 16], [1, -16],
  [2 ** 31, 2 ** 31], [2 ** 20, 2 ** 20, 2 ** 20], [2 ** 53, 2], [1e15, 1e15], [2 ** 32, 2 ** 32, 2 ** 32, 2 ** 32], [2 ** 40],
  [65536, 65536], [1.5, 16], ['1', '16'], [null], [true], [[1]], {}, 'x', 5, null, Array(70).fill(1), Array(40).fill(2),
  [raw('18446744073709551616'), 1], [raw('1e999')], [raw('-0'), 16],
];

export const DATATYPES: readonly unknown[] = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'BF16', 'FP32', 'FP64', 'BYTES',
  'int32', 'TYPE_INT32', 'STRING', '', ' INT32', 'INT128', 7, null, true, [],
];

/** A value for a numeric or string field: mostly interesting numbers, sometimes random ones. */
export function interestingValue(random: Random): unknown {
  if (random.chance(0.8)) return random.pick(INTERESTING_NUMBERS);
  return random.chance(0.5) ? random.uint32() - 2 ** 31 : random.uint32() / 7;
}

/** A JSON value nested `depth` arrays deep, as a raw token (JSON.stringify would recurse that deep). */
export function deeplyNested(depth: number): string {
  return raw(`${'['.repeat(depth)}1${']'.repeat(depth)}`);
}
