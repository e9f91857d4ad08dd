import type { InferenceError, InferenceResponse } from '../core/index.js';
import type { QueueNode } from './linked-queue.js';
import type { PreparedRequest } from './request-validation.js';

/**
 * One accepted request from its arrival at a scheduler to its answer. It is answered
 * exactly once: whichever of execution, timeout, cancellation or shutdown comes first
 * settles it, and every later attempt is ignored.
 */
export class QueuedRequest {
  /** Where it waits, while it is queued. */
  node: QueueNode<QueuedRequest> | undefined;
  /** Its priority level (0 when the model has no priority levels). */
  level = 0;
  /** Its timeout by its queue policy, and the performance.now() at which that expires; 0 for none. */
  timeoutUs = 0;
  deadlineMs = 0;
  timer: NodeJS.Timeout | undefined;
  /** Position in dispatch order, for preserve_ordering. */
  sequence = 0;
  onCancel: (() => void) | undefined;
  private settled = false;

  constructor(
    readonly prepared: PreparedRequest,
    /** performance.now() at arrival: the one timestamp every duration of this request starts from. */
    readonly arrivalMs: number,
    /** Requests with different keys are never batched together (different non-batch shapes or inputs). */
    readonly batchKey: string,
    private readonly resolve: (response: InferenceResponse) => void,
    private readonly reject: (error: InferenceError) => void,
  ) {}

  get rows(): number {
    return this.prepared.batchSize;
  }

  /** Stops its timeout and cancellation: it is leaving the queue for good. */
  leaveQueue(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.onCancel) this.prepared.request.cancellation?.unsubscribe(this.onCancel);
    this.onCancel = undefined;
  }

  settle(response: InferenceResponse | undefined, error?: InferenceError): void {
    if (this.settled) return;
    this.settled = true;
    this.leaveQueue();
    if (response) this.resolve(response);
    else this.reject(error!);
  }
}
