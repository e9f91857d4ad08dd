import type { ComputeDurations } from './model-statistics.js';

/** Receives each successful request's durations (nanoseconds), for distributions that cumulative counters cannot give. */
export interface LatencyObserver {
  /** `firstResponseNs`: until the first response, which for a decoupled model may come long before the request ends. */
  observe(requestNs: number, queueNs: number, compute: ComputeDurations, firstResponseNs: number): void;
}
