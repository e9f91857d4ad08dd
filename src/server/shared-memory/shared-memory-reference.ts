/** A tensor's place in shared memory, from its `shared_memory_*` parameters (HTTP and gRPC alike). */
import { InferenceError, type Parameters } from '../../core/index.js';

export interface SharedMemoryReference {
  /** The name the client registered the region under. */
  region: string;
  /** Bytes from the start of the region. */
  offset: number;
  byteSize: number;
}

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

/**
 * A size or offset. Integers beyond 2^53 are taken (as the nearest double): they are
 * uint64 on the wire, and the region's bounds then refuse them with Triton's wording.
 */
function size(parameters: Parameters, key: string, label: string, fallback?: number): number {
  const value = parameters[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(`${label}: parameter '${key}' must be a non-negative integer, got ${JSON.stringify(value ?? null)}`);
  }
  return value;
}

/**
 * Undefined when the tensor does not use shared memory. `label` names the tensor
 * in errors (`input 'INPUT0'`).
 */
export function sharedMemoryReference(parameters: Parameters | undefined, label: string): SharedMemoryReference | undefined {
  const region = parameters?.['shared_memory_region'];
  if (region === undefined) return undefined;
  if (typeof region !== 'string' || region === '') {
    throw invalid(`${label}: parameter 'shared_memory_region' must be the non-empty name of a registered region`);
  }
  return {
    region,
    offset: size(parameters!, 'shared_memory_offset', label, 0),
    byteSize: size(parameters!, 'shared_memory_byte_size', label),
  };
}
