import type { InferenceError, InferenceRequest, InferenceResponse } from '../core/index.js';

/**
 * What sits between the registry and a model's instances. Every kind (default,
 * dynamic batcher, sequence, ensemble) answers each enqueued request exactly once.
 */
export interface ModelScheduler {
  enqueue(request: InferenceRequest): Promise<InferenceResponse>;
  /** Requests accepted and not yet answered (queued or executing). */
  readonly pendingCount: number;
  /** Requests accepted and not yet handed to an instance: Triton's `nv_inference_pending_request_count`. */
  readonly queuedCount: number;
  /** Refuses new requests and resolves once every accepted request has been answered. */
  drain(): Promise<void>;
  /** Answers every request still waiting with `error`: nothing is left to execute them. */
  failQueued(error: InferenceError): void;
}
