/**
 * perf_analyzer's stability rule: the last three windows are stable when, for
 * throughput and for the stabilising latency (average or the chosen percentile),
 * max / min ≤ 1 + stability percentage, and no window had zero throughput.
 */

export const STABILITY_WINDOWS = 3;

export interface WindowFigures {
  throughput: number;
  latencyUs: number;
}

function withinRatio(values: readonly number[], fraction: number): boolean {
  const max = Math.max(...values);
  const min = Math.min(...values);
  return min > 0 && max / min <= 1 + fraction;
}

/** With `checkLatency` false, only throughput counts (perf_analyzer's fallback for open-loop loads). */
export function isStable(windows: readonly WindowFigures[], fraction: number, checkLatency = true): boolean {
  if (windows.length < STABILITY_WINDOWS) return false;
  const last = windows.slice(-STABILITY_WINDOWS);
  if (!withinRatio(last.map((w) => w.throughput), fraction)) return false;
  return !checkLatency || withinRatio(last.map((w) => w.latencyUs), fraction);
}
