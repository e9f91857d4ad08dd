import type { DurationStat, ModelStatistics } from './model-statistics.js';

/**
 * One model version's entry of Triton's statistics extension
 * (`GET /v2/models/{m}/stats`, gRPC `ModelStatistics`). Field names are the
 * protocol's, so that the same object is the HTTP JSON and, encoded, the gRPC message.
 */
export interface StatisticDurationJson {
  count: number;
  /** Nanoseconds, a whole number. */
  ns: number;
}

export interface InferBatchStatisticsJson {
  batch_size: number;
  compute_input: StatisticDurationJson;
  compute_infer: StatisticDurationJson;
  compute_output: StatisticDurationJson;
}

export interface InferResponseStatisticsJson {
  compute_infer: StatisticDurationJson;
  compute_output: StatisticDurationJson;
  success: StatisticDurationJson;
  fail: StatisticDurationJson;
  empty_response: StatisticDurationJson;
  cancel: StatisticDurationJson;
}

export interface ModelStatisticsJson {
  name: string;
  version: string;
  /** Milliseconds since the epoch of the last execution; 0 before the first. */
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: StatisticDurationJson;
    fail: StatisticDurationJson;
    queue: StatisticDurationJson;
    compute_input: StatisticDurationJson;
    compute_infer: StatisticDurationJson;
    compute_output: StatisticDurationJson;
    cache_hit: StatisticDurationJson;
    cache_miss: StatisticDurationJson;
  };
  batch_stats: InferBatchStatisticsJson[];
  /** Nereid does not account memory per model: always empty, as Triton's is for most backends. */
  memory_usage: never[];
  /** A decoupled model's statistics per response index ("0", "1", …); empty for other models. */
  response_stats: Record<string, InferResponseStatisticsJson>;
}

/**
 * Durations are kept as fractional nanoseconds and reported rounded; the Prometheus
 * microsecond counters are derived from the rounded figure, so both agree exactly.
 */
export function durationJson(stat: DurationStat): StatisticDurationJson {
  return { count: stat.count, ns: Math.round(stat.ns) };
}

export function modelStatisticsJson(name: string, version: string, stats: ModelStatistics): ModelStatisticsJson {
  return {
    name,
    version,
    last_inference: stats.lastInferenceMs,
    inference_count: stats.inferenceCount,
    execution_count: stats.executionCount,
    inference_stats: {
      success: durationJson(stats.success),
      fail: durationJson(stats.fail),
      queue: durationJson(stats.queue),
      compute_input: durationJson(stats.computeInput),
      compute_infer: durationJson(stats.computeInfer),
      compute_output: durationJson(stats.computeOutput),
      cache_hit: durationJson(stats.cacheHit),
      cache_miss: durationJson(stats.cacheMiss),
    },
    batch_stats: stats.batchStatistics().map((batch) => ({
      batch_size: batch.batchSize,
      compute_input: durationJson(batch.computeInput),
      compute_infer: durationJson(batch.computeInfer),
      compute_output: durationJson(batch.computeOutput),
    })),
    memory_usage: [],
    response_stats: responseStatsJson(stats),
  };
}

function responseStatsJson(stats: ModelStatistics): Record<string, InferResponseStatisticsJson> {
  const json: Record<string, InferResponseStatisticsJson> = {};
  stats.responseStatistics().forEach((response, index) => {
    json[String(index)] = {
      compute_infer: durationJson(response.computeInfer),
      compute_output: durationJson(response.computeOutput),
      success: durationJson(response.success),
      fail: durationJson(response.fail),
      empty_response: durationJson(response.emptyResponse),
      cancel: durationJson(response.cancel),
    };
  });
  return json;
}
