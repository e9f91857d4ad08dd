import type { ComputeDurations } from './model-statistics.js';

/** Receives each successful request's durations (nanoseconds), for distributions that cumulative counters cannot give. */
export interface LatencyObserver {
  observe(requestNs: number, queueNs: number, compute: ComputeDurations): void;
}
