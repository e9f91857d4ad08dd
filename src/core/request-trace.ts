/**
 * A sampled request's trace (Triton's trace extension), carried on its
 * InferenceRequest. The scheduler hands it, once, the timestamps it takes for the
 * statistics anyway, so that a trace and the statistics never disagree; a request
 * that is not traced costs the scheduler one property check.
 */
export interface RequestTrace {
  complete(times: ScheduledTimes): void;
}

/** A request's path through a scheduler; times are performance.now() milliseconds. */
export interface ScheduledTimes {
  /** The version that handled it. */
  version: string;
  /** Arrival at the scheduler: where the queue time starts. */
  queueStartMs: number;
  /** When an instance began executing its batch; absent when none did (refused, cancelled, timed out). */
  computeStartMs?: number;
  /** The execution's split as the instance measured it, in nanoseconds; absent when it never ran. */
  compute?: { inputNs: number; inferNs: number; outputNs: number };
  /** When its answer was ready. */
  requestEndMs: number;
}
