import type { Measurement } from './measurement.js';
import type { Objective, StrategyName } from './strategy.js';

export interface TuneResult {
  model: string;
  strategy: StrategyName;
  objective: Objective;
  seed: number;
  candidatesInSpace: number;
  measurements: Measurement[];
  /** Seconds of measurement windows spent, all candidates together. */
  measuredSeconds: number;
  front: Measurement[];
  /** The best feasible candidate for the objective (highest throughput, or lowest p99); undefined when none met the constraints. */
  best: Measurement | undefined;
  /** The search stopped early: budget spent or interrupted. */
  stoppedBy: 'completed' | 'budget' | 'interrupted';
}
