import type { Measurement } from './measurement.js';

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
