export * from './inference-service.js';
export * from './model-storage.js';
export * from './reconcile.js';
export type { ControllerOptions } from './controller.js';
export { runController } from './run-controller.js';
