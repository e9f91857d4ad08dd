export {
  ModelStatistics,
  type BatchStatistics,
  type ComputeDurations,
  type DurationStat,
  type FailureReason,
  type ResponseOutcomeKind,
  type ResponseStatistics,
} from './model-statistics.js';
export type { LatencyObserver } from './latency-observer.js';
export { modelStatisticsJson, type ModelStatisticsJson, type StatisticDurationJson, type InferBatchStatisticsJson, type InferResponseStatisticsJson } from './statistics-report.js';
export { DEFAULT_METRICS_CONFIG, parseMetricsConfig, type MetricsConfig } from './metrics-config.js';
export { CpuMetrics } from './cpu-metrics.js';
export { GpuMetrics, type GpuReading, type GpuValues } from './gpu-metrics.js';
export { PrometheusMetrics, type ObservedVersion, type PrometheusMetricsOptions } from './prometheus-metrics.js';
export {
  DEFAULT_TRACE_SETTINGS,
  parseTraceSettingsUpdate,
  traceSettingsFromConfig,
  type TraceLevel,
  type TraceSettings,
  type TraceSettingsJson,
  type TraceSettingsUpdate,
} from './trace-settings.js';
export { TraceManager } from './trace-manager.js';
