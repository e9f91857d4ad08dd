import { InferenceError, type Parameters } from '../core/index.js';

/** A correlation ID: an unsigned integer or a string, as Triton accepts both. 1002 and "1002" are different sequences. */
export type SequenceId = number | string;

/** Triton's sequence request parameters. */
export interface SequenceParameters {
  /** Undefined when the request names no sequence (absent, 0 or ""). */
  id: SequenceId | undefined;
  start: boolean;
  end: boolean;
}

function flag(parameters: Parameters, key: 'sequence_start' | 'sequence_end'): boolean {
  const value = parameters[key];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw new InferenceError('INVALID_ARG', `Unable to parse '${key}': expected a boolean, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function sequenceParameters(parameters: Parameters | undefined): SequenceParameters {
  if (!parameters) return { id: undefined, start: false, end: false };
  const raw = parameters['sequence_id'];
  let id: SequenceId | undefined;
  if (typeof raw === 'string') id = raw === '' ? undefined : raw;
  else if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw) || raw < 0) {
      throw new InferenceError('INVALID_ARG', `Unable to parse 'sequence_id': expected an unsigned integer or a string, got ${raw}`);
    }
    id = raw === 0 ? undefined : raw;
  } else if (raw !== undefined) {
    throw new InferenceError('INVALID_ARG', `Unable to parse 'sequence_id': expected an unsigned integer or a string, got ${JSON.stringify(raw)}`);
  }
  return { id, start: flag(parameters, 'sequence_start'), end: flag(parameters, 'sequence_end') };
}

/** How messages write a correlation ID: as Triton, the number or the string itself. */
export function formatSequenceId(id: SequenceId): string {
  return typeof id === 'number' ? String(id) : id;
}
