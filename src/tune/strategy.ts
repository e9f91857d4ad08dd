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

/** Higher is better: feasible candidates by throughput, then infeasible ones. */
export function score(m: Measurement): number {
  return m.feasible ? m.throughput : -1 / (1 + m.throughput);
}
