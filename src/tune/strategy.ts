/**
 * A search strategy picks which candidates to measure, and for how long. Each gets the
 * whole candidate list, a measuring function (which refuses once the budget is spent by
 * throwing BudgetExhausted) and a seeded random source.
 */
import type { Measurement } from './measurement.js';
import type { Random } from './random.js';
import type { Candidate } from './search-space.js';

export type StrategyName = 'grid' | 'random' | 'asha' | 'bayes';
export const STRATEGIES: readonly StrategyName[] = ['grid', 'random', 'asha', 'bayes'];

export type Measure = (candidate: Candidate, windowMs: number) => Promise<Measurement>;

export interface StrategyContext {
  candidates: Candidate[];
  measure: Measure;
  random: Random;
  /** The full-length window: grid and random measure every candidate with it. */
  windowMs: number;
}

export class BudgetExhausted extends Error {}

/** What the search optimises, as Model Analyzer's objectives: perf_throughput or perf_latency_p99. */
export type Objective = 'throughput' | 'latency';
export const OBJECTIVES: readonly Objective[] = ['throughput', 'latency'];

const OBJECTIVE_NAMES: Record<string, Objective> = {
  throughput: 'throughput',
  'max-throughput': 'throughput',
  perf_throughput: 'throughput',
  latency: 'latency',
  'min-latency': 'latency',
  perf_latency_p99: 'latency',
};

/** The objective a user's spelling names (ours or Model Analyzer's), or undefined. */
export function objectiveNamed(name: string): Objective | undefined {
  return OBJECTIVE_NAMES[name];
}

/** Higher is better: feasible candidates by the objective (throughput, or the inverse of p99), then infeasible ones. */
export function score(m: Measurement): number {
  if (!m.feasible) return -1 / (1 + m.throughput);
  return m.objective === 'latency' ? 1000 / Math.max(m.p99Ms, 1e-6) : m.throughput;
}

/** Orders feasible measurements best first for the objective. */
export function better(objective: Objective): (a: Measurement, b: Measurement) => number {
  return objective === 'latency' ? (a, b) => a.p99Ms - b.p99Ms || b.throughput - a.throughput : (a, b) => b.throughput - a.throughput || a.p99Ms - b.p99Ms;
}
