import type { Measurement } from './measurement.js';
import { better, type Objective } from './strategy.js';

/** Measurements no other one beats on both throughput (higher) and p99 (lower), by throughput. Of repeated candidates, the longest measurement counts. */
export function latestPerCandidate(measurements: readonly Measurement[]): Measurement[] {
  const byKey = new Map<string, Measurement>();
  for (const m of measurements) {
    const known = byKey.get(m.key);
    if (!known || m.windowMs >= known.windowMs) byKey.set(m.key, m);
  }
  return [...byKey.values()];
}

export function paretoFront(measurements: readonly Measurement[]): Measurement[] {
  const usable = latestPerCandidate(measurements).filter((m) => m.error === undefined && m.throughput > 0);
  const dominated = (m: Measurement) =>
    usable.some((o) => o !== m && o.throughput >= m.throughput && o.p99Ms <= m.p99Ms && (o.throughput > m.throughput || o.p99Ms < m.p99Ms));
  return usable.filter((m) => !dominated(m)).sort((a, b) => b.throughput - a.throughput);
}

/**
 * The winner: of each candidate's longest measurement, the best feasible one among those
 * measured with the full window (ASHA's finalists), or among all when none was (a budget
 * that ran out early). A short window's figure is noisier than a full one's, so a
 * candidate measured only briefly must not beat the finalists on a lucky window.
 */
export function bestMeasurement(measurements: readonly Measurement[], fullWindowMs: number, objective: Objective): Measurement | undefined {
  const feasible = latestPerCandidate(measurements).filter((m) => m.feasible);
  const finalists = feasible.filter((m) => m.windowMs >= fullWindowMs);
  return (finalists.length > 0 ? finalists : feasible).sort(better(objective))[0];
}
