import { InferenceError, type Parameters } from '../core/index.js';

/** Triton's scheduling request parameters: `priority` (0 = the model's default) and `timeout` in microseconds (0 = none). */
export interface SchedulingParameters {
  priority: number;
  timeoutUs: number;
}

const NONE: SchedulingParameters = { priority: 0, timeoutUs: 0 };

/** An unsigned integer as Triton requires for both parameters; its wording, which clients match on. */
function unsigned(parameters: Parameters, key: 'priority' | 'timeout'): number {
  const value = parameters[key];
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InferenceError('INVALID_ARG', `Unable to parse '${key}': expected an unsigned integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function schedulingParameters(parameters: Parameters | undefined): SchedulingParameters {
  if (!parameters || (parameters['priority'] === undefined && parameters['timeout'] === undefined)) return NONE;
  return { priority: unsigned(parameters, 'priority'), timeoutUs: unsigned(parameters, 'timeout') };
}
