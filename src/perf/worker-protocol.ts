/** Messages between the run coordinator (main thread) and its load worker threads. */
import type { Endpoint } from './endpoint.js';
import type { PerfProtocol, RequestDistribution } from './perf-options.js';

export interface WorkerInit {
  index: number;
  protocol: PerfProtocol;
  endpoint: Endpoint;
  /** Every planned request, encoded: complete HTTP request bytes, or a serialized ModelInferRequest. */
  requests: Uint8Array[];
  /** gRPC: one ModelStreamInfer stream per slot instead of unary calls. */
  streaming: boolean;
  /** Milliseconds to wait for answers in flight when told to stop. */
  drainTimeoutMs: number;
}

export type ToWorker =
  | { type: 'concurrency'; slots: number }
  /** `phase` (0…1) staggers the workers' constant schedules so that together they stay evenly spaced. */
  | { type: 'rate'; rate: number; distribution: RequestDistribution; phase: number; seed: number }
  | { type: 'collect' }
  /** How many requests the current window has completed so far (count_windows mode). */
  | { type: 'count' }
  | { type: 'stop' };

/** What one worker measured since the previous collect (or since the load changed). */
export interface WorkerWindow {
  durationMs: number;
  /** Latencies of the successful requests, microseconds. */
  latenciesUs: Uint32Array;
  okCount: number;
  errorCount: number;
  /** Error text → occurrences. */
  errors: Record<string, number>;
  sendUsSum: number;
  recvUsSum: number;
  sentCount: number;
  /** Request-rate mode: requests sent later than their schedule allowed. */
  delayedCount: number;
  /** Share of the window the worker's event loop was busy (0…1): near 1, the generator is the bottleneck. */
  eventLoopUtilization: number;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'window'; window: WorkerWindow }
  /** Requests answered (successfully or not) since the window began. */
  | { type: 'count'; completed: number }
  /** `errorCount`: failures among the answers that arrived after the last window. */
  | { type: 'stopped'; abandoned: number; errorCount: number }
  | { type: 'failed'; message: string };
