export { parsePipeline, readPipeline, SOURCE_STEP, type Pipeline, type PipelineStep, type InputBinding } from './pipeline-file.js';
export { runPipeline, type PipelineRunOptions } from './pipeline-run.js';
export { RunStore, type RunRecord, type StepRecord, type StepStatus, type RunStatus, type CacheEntry } from './run-store.js';
export { formatRuns } from './runs-report.js';
export { STEP_KINDS } from './step-kinds.js';
export { contentHash, shortHash, ARTIFACT_TYPES, type Artifact, type ArtifactType } from './artifacts.js';
export { canaryVerdict, type Verdict, type VerdictThresholds } from './canary-verdict.js';
export { modelCounters, type ModelCounters } from './model-metrics.js';
export { inferenceServiceManifest } from './kserve-manifest.js';
