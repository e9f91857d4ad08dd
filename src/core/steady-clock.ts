/**
 * The process's steady clock: process.hrtime (CLOCK_MONOTONIC on Linux), in
 * nanoseconds. Every thread reads it alike, so a worker's timestamps can be compared
 * with the main thread's; Triton's trace timestamps use the same clock. Schedulers
 * keep their times as performance.now() milliseconds; the offset between the two is
 * taken once per thread.
 */
import { performance } from 'node:perf_hooks';

export const steadyNowNs = (): number => Number(process.hrtime.bigint());

const OFFSET_NS = steadyNowNs() - performance.now() * 1e6;

/** A steady-clock timestamp (taken on any thread) on this thread's performance.now() scale. */
export const steadyNsToPerformanceMs = (ns: number): number => (ns - OFFSET_NS) / 1e6;

/** A performance.now() time of this thread as a steady-clock timestamp. */
export const performanceMsToSteadyNs = (ms: number): number => Math.round(ms * 1e6 + OFFSET_NS);
