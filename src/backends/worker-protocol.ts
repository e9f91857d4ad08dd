/**
 * Messages between a WorkerInstance (main thread) and the worker thread that hosts one
 * model instance, whatever the backend. Tensor buffers travel in transfer lists.
 */
import type { CommandSlotMemory } from './command-slot.js';
import { isPackedBytes, ownedByteElements, type ErrorCode, type Parameters, type Tensor } from '../core/index.js';
import type { ExecutionBatch, ExecutionResult, ModelSignature, RequestOutcome } from './backend.js';
import type { PackedExecute, PackedResult } from './packed-messages.js';
import type { MessagePort } from 'node:worker_threads';

/** A request a model sends to another model of the server (a JavaScript model's infer()). */
export interface CallRequest {
  model: string;
  version?: string;
  id?: string;
  inputs: Tensor[];
  /** Absent: every output. */
  outputs?: string[];
  parameters?: Parameters;
}

export type CallOutcome =
  | { response: { model: string; version: string; id?: string; outputs: Tensor[] } }
  | { error: { code: ErrorCode; message: string } };

export type WorkerCommand =
  | { type: 'execute'; id: number; batch: ExecutionBatch }
  /** An 'execute' in the packed form of packed-messages.ts (an array, where every other command is an object). */
  | PackedExecute
  /**
   * Sent once, first: the doorbell the main thread rings (Atomics.add on element 0) after
   * every postMessage to the worker, and how long, in µs at most, the worker may watch it
   * when it runs out of work before it parks in its event loop (see idle-spin.ts).
   */
  | {
      type: 'handoff';
      doorbell: Int32Array;
      spinMicros: number;
      /**
       * Where the worker sends every later reply, ringing `replyDoorbell` (Atomics.add on
       * element 0) after each postMessage: the main thread may be watching it instead of
       * its event loop (see reply-wait.ts).
       */
      replyPort: MessagePort;
      replyDoorbell: Int32Array;
      /** Where the main thread may put an execute command while the worker spins, instead of posting it (see command-slot.ts). */
      commandSlot: CommandSlotMemory;
    }
  | { type: 'close' }
  /** The answer to a 'call' of the worker's; it is delivered at once, even while an execution runs (which may be awaiting it). */
  | { type: 'call-result'; id: number; outcome: CallOutcome };

export type WorkerReply =
  | { type: 'ready'; signature: ModelSignature }
  /** A 'result' of kind 'batch' in the packed form of packed-messages.ts. */
  | PackedResult
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; result: ExecutionResult }
  | { type: 'error'; id: number; message: string }
  | { type: 'closed' }
  | { type: 'call'; id: number; request: CallRequest }
  /** One response of a decoupled model to request `request` of execution `id` (see ResponseSink), sent before or after its 'result'. */
  | { type: 'response'; id: number; request: number; outcome?: RequestOutcome; final: boolean };

/**
 * The tensor with a buffer of its own, ready to transfer: a view on a larger buffer
 * (one request's rows of a batch's output) is copied, since transferring the whole
 * buffer would empty it for the other requests of the batch.
 */
export function ownedTensor(tensor: Tensor): Tensor {
  const { data } = tensor;
  if (isPackedBytes(data)) {
    const owned = ownedByteElements(data);
    return owned === data ? tensor : { ...tensor, data: owned };
  }
  if (!(data.buffer instanceof ArrayBuffer)) return tensor;
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return tensor;
  return { ...tensor, data: data.slice() };
}

/**
 * The buffers to transfer with `tensors` (BYTES: the buffer of their packed elements):
 * each distinct ArrayBuffer once. Shared memory is shared rather than transferred.
 */
export function transferList(tensors: readonly Tensor[], into: Set<ArrayBuffer> = new Set()): Set<ArrayBuffer> {
  for (const { data } of tensors) {
    const { buffer } = isPackedBytes(data) ? data.bytes : data;
    if (buffer instanceof ArrayBuffer) into.add(buffer);
  }
  return into;
}
