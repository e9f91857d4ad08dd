export type { ModelScheduler } from './scheduler.js';
export type { SchedulerContext } from './batch-scheduler.js';
export { CachingScheduler } from './caching-scheduler.js';
export { ResponseCache } from './response-cache.js';
export { DefaultScheduler } from './default-scheduler.js';
export { DynamicBatcher } from './dynamic-batcher.js';
export { InstancePool } from './instance-pool.js';
export { prepareRequest, type PreparedRequest } from './request-validation.js';
export { SequenceBatcher } from './sequence-batcher.js';
