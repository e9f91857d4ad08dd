export { runTune, type TuneOptions, type TuneHooks } from './tune-run.js';
export type { TuneResult } from './tune-result.js';
export type { Measurement } from './measurement.js';
export { STRATEGIES, OBJECTIVES, objectiveNamed, type StrategyName, type Objective } from './strategy.js';
export { defaultSearchSpace, enumerate, applyCandidate, candidateKey, type Candidate, type SearchSpace } from './search-space.js';
export { formatFront, tuneHtmlReport } from './report.js';
export { toPbtxt } from './pbtxt-writer.js';
export { paretoFront, bestMeasurement } from './pareto.js';
export { modelControl, HttpModelControl, GrpcModelControl, withoutProtoDefaults, type ModelControl } from './model-control.js';
