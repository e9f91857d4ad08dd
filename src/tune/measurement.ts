/**
 * One measurement of one candidate: apply its configuration, warm it up, then run the
 * perf engine at each load level for `windowMs`-long windows. A level is admissible when
 * its p99 meets the latency budget (and, for the latency objective, its throughput
 * meets the minimum); the candidate's figures come from its best admissible level: the
 * highest throughput, or for the latency objective the lowest p99.
 */
import { perfOptions, runPerf, type PerfProtocol } from '../perf/index.js';
import type { ModelControl } from './model-control.js';
import { applyCandidate, candidateKey, type Candidate } from './search-space.js';
import type { Objective } from './strategy.js';

export interface Measurement {
  candidate: Candidate;
  key: string;
  objective: Objective;
  /** Inferences per second at the best admissible load level (0 when none was). */
  throughput: number;
  /** p99 latency in ms at that level (the lowest p99 measured when no level was admissible). */
  p99Ms: number;
  /** The load level (concurrency) the figures come from. */
  concurrency: number;
  /** Meets --latency-budget and --min-throughput. */
  feasible: boolean;
  /** Seconds of measurement windows spent on it (warm-up and reloads not counted). */
  measuredSeconds: number;
  windowMs: number;
  error?: string;
}

export interface MeasureSettings {
  model: string;
  url: string;
  protocol: PerfProtocol;
  concurrencies: number[];
  batchSize: number;
  latencyBudgetMs: number;
  minThroughput: number;
  objective: Objective;
  signal?: AbortSignal;
}

export async function measure(control: ModelControl, baseConfig: Record<string, unknown>, candidate: Candidate, windowMs: number, settings: MeasureSettings): Promise<Measurement> {
  const key = candidateKey(candidate);
  const objective = settings.objective;
  const failed = (error: string): Measurement => ({ candidate, key, objective, throughput: 0, p99Ms: Infinity, concurrency: 0, feasible: false, measuredSeconds: 0, windowMs, error });
  try {
    await control.load(settings.model, applyCandidate(baseConfig, candidate));
  } catch (err) {
    return failed((err as Error).message);
  }
  const common = {
    model: settings.model,
    url: settings.url,
    protocol: settings.protocol,
    batchSize: settings.batchSize,
    stabilityFraction: 1,
    maxTrials: 1,
    drainTimeoutMs: 2000,
  };
  const top = Math.max(...settings.concurrencies);
  // Warm-up: a short untimed run at the highest level, so that sessions and JIT are hot.
  await runPerf(perfOptions({ ...common, measurementIntervalMs: Math.max(100, Math.floor(windowMs / 4)), load: { kind: 'concurrency', range: { start: top, end: top, step: 1 } } }), { signal: settings.signal });
  let best: { throughput: number; p99Ms: number; concurrency: number } | undefined;
  let lowest = { throughput: 0, p99Ms: Infinity, concurrency: 0 };
  let measuredSeconds = 0;
  for (const concurrency of settings.concurrencies) {
    if (settings.signal?.aborted) break;
    const result = await runPerf(perfOptions({ ...common, measurementIntervalMs: windowMs, load: { kind: 'concurrency', range: { start: concurrency, end: concurrency, step: 1 } } }), { signal: settings.signal });
    for (const level of result.levels) {
      measuredSeconds += level.durationS;
      if (level.requestCount === 0) continue;
      const figures = { throughput: level.throughput, p99Ms: (level.latencyUs.percentiles['99'] ?? level.latencyUs.max) / 1000, concurrency };
      if (figures.p99Ms < lowest.p99Ms) lowest = figures;
      const withinBudget = settings.latencyBudgetMs <= 0 || figures.p99Ms <= settings.latencyBudgetMs;
      if (objective === 'latency') {
        if (withinBudget && figures.throughput >= settings.minThroughput && (!best || figures.p99Ms < best.p99Ms)) best = figures;
      } else if (withinBudget && (!best || figures.throughput > best.throughput)) {
        best = figures;
      }
    }
  }
  const chosen = best ?? lowest;
  const feasible = best !== undefined && chosen.throughput >= settings.minThroughput;
  return { candidate, key, objective, ...chosen, throughput: best ? chosen.throughput : 0, feasible, measuredSeconds, windowMs };
}
