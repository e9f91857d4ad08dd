export type { ModelScheduler } from './scheduler.js';
export { DefaultScheduler } from './default-scheduler.js';
export { InstancePool } from './instance-pool.js';
export { prepareRequest, type PreparedRequest } from './request-validation.js';
