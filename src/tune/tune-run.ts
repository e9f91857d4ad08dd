/**
 * One `nereid tune` run: read the model's configuration, enumerate the search space,
 * let the strategy measure candidates within the budget, then restore the best
 * configuration on the server (or the original one when none met the constraints).
 * Aborting (Ctrl-C) or running out of budget stops the search and keeps what was measured.
 */
import { InferenceError } from '../core/index.js';
import type { PerfProtocol } from '../perf/index.js';
import { ashaSearch } from './asha-strategy.js';
import { bayesSearch } from './bayes-strategy.js';
import { gridSearch } from './grid-strategy.js';
import { measure, type Measurement } from './measurement.js';
import { modelControl } from './model-control.js';
import { bestMeasurement, paretoFront } from './pareto.js';
import { seededRandom } from './random.js';
import { randomSearch } from './random-strategy.js';
import { applyCandidate, candidateOf, defaultSearchSpace, enumerate, type SearchSpace } from './search-space.js';
import { BudgetExhausted, OBJECTIVES, type Objective, type StrategyContext, type StrategyName } from './strategy.js';
import type { TuneResult } from './tune-result.js';

export interface TuneOptions {
  model: string;
  /** HOST:PORT of the endpoint of `protocol`: candidates are applied and measured through it. */
  url: string;
  protocol: PerfProtocol;
  strategy: StrategyName;
  /** Default throughput: maximise throughput; latency: minimise p99. */
  objective?: Objective;
  seed: number;
  /** 0: no limit. Measurement-window seconds, not wall time. */
  budgetSeconds: number;
  latencyBudgetMs: number;
  minThroughput: number;
  concurrencies: number[];
  batchSize: number;
  /** The full measurement window of a candidate. */
  windowMs: number;
  /** Undefined: the default space for the model. */
  space?: SearchSpace;
}

export interface TuneHooks {
  onMeasurement?(m: Measurement): void;
  signal?: AbortSignal;
}

const STRATEGY_RUN: Record<StrategyName, (ctx: StrategyContext) => Promise<void>> = {
  grid: gridSearch,
  random: randomSearch,
  asha: ashaSearch,
  bayes: bayesSearch,
};

export async function runTune(options: TuneOptions, hooks: TuneHooks = {}): Promise<TuneResult & { bestConfig: Record<string, unknown> | undefined }> {
  if (options.protocol !== 'http' && options.protocol !== 'grpc') throw new InferenceError('INVALID_ARG', `unknown protocol '${String(options.protocol)}'; expected http or grpc`);
  const objective = options.objective ?? 'throughput';
  if (!OBJECTIVES.includes(objective)) throw new InferenceError('INVALID_ARG', `unknown objective '${String(objective)}'; expected throughput or latency`);
  if (!STRATEGY_RUN[options.strategy]) throw new InferenceError('INVALID_ARG', `unknown strategy '${String(options.strategy)}'; expected grid, random, asha or bayes`);
  if (options.concurrencies.length === 0 || options.concurrencies.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new InferenceError('INVALID_ARG', `concurrency levels must be positive integers, got '${options.concurrencies.join(',')}'`);
  }
  const control = modelControl(options.url, options.protocol);
  try {
    return await search(options, objective, control, hooks);
  } finally {
    control.close();
  }
}

async function search(options: TuneOptions, objective: Objective, control: ReturnType<typeof modelControl>, hooks: TuneHooks): Promise<TuneResult & { bestConfig: Record<string, unknown> | undefined }> {
  const original = await control.config(options.model);
  const current = candidateOf(original);
  const candidates = enumerate(options.space ?? defaultSearchSpace(current.maxBatchSize));
  const measurements: Measurement[] = [];
  let measuredSeconds = 0;
  let stoppedBy: TuneResult['stoppedBy'] = 'completed';
  const settings = { ...options, objective, signal: hooks.signal };
  const ctx: StrategyContext = {
    candidates,
    random: seededRandom(options.seed),
    windowMs: options.windowMs,
    measure: async (candidate, windowMs) => {
      if (hooks.signal?.aborted) throw new BudgetExhausted('interrupted');
      if (options.budgetSeconds > 0 && measuredSeconds + windowMs / 1000 > options.budgetSeconds) throw new BudgetExhausted('budget');
      const m = await measure(control, original, candidate, windowMs, settings);
      measuredSeconds += m.measuredSeconds;
      measurements.push(m);
      hooks.onMeasurement?.(m);
      return m;
    },
  };
  try {
    await STRATEGY_RUN[options.strategy](ctx);
  } catch (err) {
    if (!(err instanceof BudgetExhausted)) throw err;
    stoppedBy = err.message === 'interrupted' ? 'interrupted' : 'budget';
  }
  if (hooks.signal?.aborted) stoppedBy = 'interrupted';
  const best = bestMeasurement(measurements, options.windowMs, objective);
  const bestConfig = best ? applyCandidate(original, best.candidate) : undefined;
  await control.load(options.model, bestConfig ?? original);
  return { model: options.model, strategy: options.strategy, objective, seed: options.seed, candidatesInSpace: candidates.length, measurements, measuredSeconds, front: paretoFront(measurements), best, bestConfig, stoppedBy };
}

