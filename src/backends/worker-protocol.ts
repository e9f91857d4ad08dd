/**
 * Messages between a WorkerInstance (main thread) and the worker thread that hosts one
 * model instance, whatever the backend. Tensor buffers travel in transfer lists.
 */
import type { Tensor } from '../core/index.js';
import type { ExecutionBatch, ExecutionResult, ModelSignature } from './backend.js';

export type WorkerCommand = { type: 'execute'; id: number; batch: ExecutionBatch } | { type: 'close' };

export type WorkerReply =
  | { type: 'ready'; signature: ModelSignature }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; result: ExecutionResult }
  | { type: 'error'; id: number; message: string }
  | { type: 'closed' };

/**
 * The buffers to transfer with `tensors`: each distinct ArrayBuffer once. Shared memory
 * is shared rather than transferred, and BYTES elements are small enough to copy.
 */
export function transferList(tensors: readonly Tensor[], into: Set<ArrayBuffer> = new Set()): Set<ArrayBuffer> {
  for (const tensor of tensors) {
    if (!Array.isArray(tensor.data) && tensor.data.buffer instanceof ArrayBuffer) into.add(tensor.data.buffer);
  }
  return into;
}
