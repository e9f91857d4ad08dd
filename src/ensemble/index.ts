export { EnsembleScheduler, type EnsembleContext } from './ensemble-scheduler.js';
export type { ModelResolver, ResolvedModel } from './model-resolver.js';
