import type { Measurement } from './measurement.js';
import type { StrategyName } from './strategy.js';

export interface TuneResult {
  model: string;
  strategy: StrategyName;
  seed: number;
  candidatesInSpace: number;
  measurements: Measurement[];
  /** Seconds of measurement windows spent, all candidates together. */
  measuredSeconds: number;
  front: Measurement[];
  /** The feasible candidate with the highest throughput (lowest p99 on ties); undefined when none met the constraints. */
  best: Measurement | undefined;
  /** The search stopped early: budget spent or interrupted. */
  stoppedBy: 'completed' | 'budget' | 'interrupted';
}
