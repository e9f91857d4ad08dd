/**
 * The process's steady clock: process.hrtime (CLOCK_MONOTONIC on Linux), in
 * nanoseconds. Every thread reads it alike, so a worker's timestamps can be compared
 * with the main thread's; Triton's trace timestamps use the same clock. Schedulers
 * keep their times as performance.now() milliseconds; the offset between the two is
 * taken once per thread.
 */
import { performance } from 'node:perf_hooks';

export const steadyNowNs = (): number => Number(process.hrtime.bigint());

/**
 * The offset is read from the closest of several brackets: performance.now() between two
 * steadyNowNs() calls. A single pair read once would be off by whatever the first call of
 * either clock costs (lazy set-up: tens of µs to milliseconds), and every queue time
 * computed from a worker's timestamp would carry that error.
 */
function measureOffsetNs(): number {
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 64; i++) {
    const before = steadyNowNs();
    const nowMs = performance.now();
    const after = steadyNowNs();
    if (after - before < best) {
      best = after - before;
      offset = (before + after) / 2 - nowMs * 1e6;
    }
  }
  return offset;
}

const OFFSET_NS = measureOffsetNs();

/** A steady-clock timestamp (taken on any thread) on this thread's performance.now() scale. */
export const steadyNsToPerformanceMs = (ns: number): number => (ns - OFFSET_NS) / 1e6;

/** A performance.now() time of this thread as a steady-clock timestamp. */
export const performanceMsToSteadyNs = (ms: number): number => Math.round(ms * 1e6 + OFFSET_NS);
