/** `map<string, InferParameter>` (a oneof per entry) ↔ the core's Parameters. */
import { InferenceError, type Parameters } from '../../core/index.js';
import { int64ToBigInt, type InferParameterMessage, type ParameterMap } from './grpc-messages.js';

/**
 * Shared-memory offsets and sizes beyond 2^53 are passed on (as the nearest double):
 * the region's bounds refuse them with Triton's wording.
 */
const REGION_BOUNDED_KEYS = new Set(['shared_memory_offset', 'shared_memory_byte_size']);

function safeInteger(value: bigint, where: string, key: string): number {
  if (REGION_BOUNDED_KEYS.has(key)) return Number(value);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new InferenceError(
      'INVALID_ARG',
      `${where}: parameter '${key}' has the value ${value}, beyond the ±(2^53-1) that Nereid holds exactly`,
    );
  }
  return Number(value);
}

/** `parameter` is null for a map entry that carries only its key (protobufjs's decoding of a missing value). */
function parameterValue(parameter: InferParameterMessage | null, where: string, key: string): string | number | boolean {
  switch (parameter?.parameter_choice) {
    case 'bool_param':
      return parameter!.bool_param!;
    case 'string_param':
      return parameter!.string_param!;
    case 'double_param':
      return parameter!.double_param!;
    case 'int64_param':
      return safeInteger(int64ToBigInt(parameter!.int64_param!, false), where, key);
    case 'uint64_param':
      return safeInteger(int64ToBigInt(parameter!.uint64_param!, true), where, key);
    default:
      throw new InferenceError(
        'INVALID_ARG',
        `${where}: parameter '${key}' has no value; set one of bool_param, int64_param, string_param, double_param or uint64_param`,
      );
  }
}

/** Undefined when the map is empty, so that requests without parameters carry none. `where` prefixes errors. */
export function parametersFromWire(map: ParameterMap, where: string): Parameters | undefined {
  let parameters: Parameters | undefined;
  for (const key in map) {
    parameters ??= {};
    parameters[key] = parameterValue(map[key], where, key);
  }
  return parameters;
}

export function parametersToWire(parameters: Parameters): ParameterMap {
  const map: ParameterMap = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (typeof value === 'boolean') map[key] = { bool_param: value };
    else if (typeof value === 'string') map[key] = { string_param: value };
    else if (Number.isSafeInteger(value)) map[key] = { int64_param: value };
    else map[key] = { double_param: value };
  }
  return map;
}
