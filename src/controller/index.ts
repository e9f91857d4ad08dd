export * from './inference-service.js';
export * from './model-storage.js';
export * from './reconcile.js';
