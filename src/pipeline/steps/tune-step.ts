/**
 * tune: `nereid tune` on the staging server, starting from the configuration given as
 * input; outputs the winning configuration and the search's record. Fails when no
 * candidate met the constraints.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError } from '../../core/index.js';
import { defaultSearchSpace, HttpModelControl, OBJECTIVES, runTune, STRATEGIES, type Objective, type SearchSpace, type StrategyName } from '../../tune/index.js';
import { endpointOf } from '../server-process.js';
import type { StepKind } from '../step-kind.js';

const SPACE_FIELDS: Array<[string, keyof SearchSpace]> = [
  ['max_batch_sizes', 'maxBatchSizes'],
  ['preferred_batch_sizes', 'preferredBatchSizes'],
  ['max_queue_delays_us', 'maxQueueDelaysUs'],
  ['instance_counts', 'instanceCounts'],
  ['intra_op_threads', 'intraOpThreads'],
];

export const tuneStep: StepKind = {
  kind: 'tune',
  help: 'searches the serving configuration (nereid tune) and outputs the winner',
  inputs: {
    model: { type: 'model', help: 'the model folder' },
    config: { type: 'model-config', help: 'the configuration the search starts from' },
  },
  outputs: { config: 'model-config', report: 'report' },
  parameters: {
    strategy: { type: 'string', default: 'asha', oneOf: STRATEGIES, help: 'search strategy' },
    objective: { type: 'string', default: 'throughput', oneOf: OBJECTIVES, help: 'throughput (maximise) or latency (minimise p99)' },
    protocol: { type: 'string', default: 'http', oneOf: ['http', 'grpc'], help: 'protocol candidates are applied and measured with' },
    seed: { type: 'int', default: 1, help: 'seed of random, asha and bayes' },
    budget_seconds: { type: 'number', default: 0, min: 0, help: 'most seconds of measurement windows (0: none)' },
    window_ms: { type: 'int', default: 1000, min: 10, help: 'full measurement window of a candidate' },
    concurrency: { type: 'int-list', default: [1, 4], min: 1, help: 'load levels each candidate is measured at' },
    batch_size: { type: 'int', default: 1, min: 1, help: 'batch size of each request' },
    latency_budget_ms: { type: 'number', default: 0, min: 0, help: 'largest acceptable p99 (0: none)' },
    min_throughput: { type: 'number', default: 0, min: 0, help: 'smallest acceptable inferences per second' },
    max_batch_sizes: { type: 'int-list', min: 0, help: 'max_batch_size values to try (default: the model’s and an eighth of it)' },
    preferred_batch_sizes: { type: 'int-list', min: 0, help: 'preferred batch sizes to try (0: none)' },
    max_queue_delays_us: { type: 'int-list', min: 0, help: 'queue delays to try' },
    instance_counts: { type: 'int-list', min: 1, help: 'instance counts to try' },
    intra_op_threads: { type: 'int-list', min: 1, help: 'ONNX Runtime intra-op thread counts to try' },
  },
  cacheable: true,
  async run(ctx) {
    const staging = await ctx.staging();
    const base = JSON.parse(readFileSync(ctx.inputs.config.path, 'utf8')) as Record<string, unknown>;
    await new HttpModelControl(`http://${staging.http}`).load(ctx.model, base);
    const space = defaultSearchSpace(Number(base.max_batch_size ?? 0));
    for (const [param, field] of SPACE_FIELDS) {
      if (ctx.params[param] !== undefined) space[field] = ctx.params[param] as number[];
    }
    const result = await runTune(
      {
        model: ctx.model,
        url: endpointOf(staging, ctx.params.protocol as 'http' | 'grpc'),
        protocol: ctx.params.protocol as 'http' | 'grpc',
        strategy: ctx.params.strategy as StrategyName,
        objective: ctx.params.objective as Objective,
        seed: ctx.params.seed as number,
        budgetSeconds: ctx.params.budget_seconds as number,
        latencyBudgetMs: ctx.params.latency_budget_ms as number,
        minThroughput: ctx.params.min_throughput as number,
        concurrencies: ctx.params.concurrency as number[],
        batchSize: ctx.params.batch_size as number,
        windowMs: ctx.params.window_ms as number,
        space,
      },
      { signal: ctx.signal, onMeasurement: (m) => ctx.log(`${m.key}: ${m.error ? `failed: ${m.error}` : `${m.throughput.toFixed(1)} infer/s, p99 ${m.p99Ms.toFixed(2)} ms`}`) },
    );
    const report = join(ctx.outDir, 'tune.json');
    writeFileSync(report, `${JSON.stringify(result, null, 2)}\n`);
    if (!result.best || !result.bestConfig) throw new InferenceError('INVALID_ARG', `no candidate of ${result.candidatesInSpace} met the constraints (${result.measurements.length} measured; record in ${report})`);
    const config = join(ctx.outDir, 'config.json');
    writeFileSync(config, `${JSON.stringify(result.bestConfig, null, 2)}\n`);
    return {
      outputs: { config, report },
      summary: `${result.strategy}: ${result.measurements.length} measurements, ${result.measuredSeconds.toFixed(1)} s measured; best ${result.best.key} at ${result.best.throughput.toFixed(1)} infer/s, p99 ${result.best.p99Ms.toFixed(2)} ms`,
    };
  },
};
