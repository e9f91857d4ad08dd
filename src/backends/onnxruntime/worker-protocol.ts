/** Messages between an OnnxRuntimeInstance (main thread) and its session worker. */
import type { Tensor } from '../../core/index.js';
import type { ExecutionTiming, ModelSignature } from '../backend.js';

export interface SessionWorkerData {
  modelPath: string;
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface WorkerRequest {
  id: number;
  inputs: Tensor[];
  outputNames: string[];
}

export type WorkerReply =
  | { type: 'ready'; signature: ModelSignature }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Tensor[]; timing: ExecutionTiming }
  | { type: 'error'; id: number; message: string };
