export { runPerf, type PerfHooks, type WindowProgress } from './perf-run.js';
export {
  perfOptions,
  loadLevels,
  defaultUrl,
  DEFAULT_PERF_OPTIONS,
  type PerfOptions,
  type PerfProtocol,
  type LoadMode,
  type LoadRange,
  type RequestDistribution,
  type InputDataSource,
  type TensorFormat,
} from './perf-options.js';
export { reportedLevels, REPORTED_PERCENTILES, type LevelResult, type PerfResult } from './perf-result.js';
export type { ServerSplit } from './server-stats.js';
export { formatSettings, formatLevel, formatSummary } from './report-console.js';
export { csvReport } from './report-csv.js';
export { jsonReport } from './report-json.js';
export { htmlReport } from './report-html.js';
export { ProgressLine } from './progress-line.js';
export { GrpcControl } from './grpc-control.js';
export { parseEndpoint, type Endpoint } from './endpoint.js';
