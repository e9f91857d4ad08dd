export {
  ModelStatistics,
  type BatchStatistics,
  type ComputeDurations,
  type DurationStat,
  type FailureReason,
} from './model-statistics.js';
