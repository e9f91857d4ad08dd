export * from './datatype.js';
export * from './errors.js';
export * from './tensor.js';
export * from './inference.js';
export * from './logger.js';
export * from './half-float.js';
export * from './cancellation.js';
export * from './tensor-bytes.js';
