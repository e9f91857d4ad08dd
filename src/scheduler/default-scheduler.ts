import type { InferenceError } from '../core/index.js';
import { BatchScheduler, type Execution, type SchedulerContext } from './batch-scheduler.js';
import { LinkedQueue } from './linked-queue.js';
import type { QueuedRequest } from './queued-request.js';

/**
 * Triton's default scheduler: each request runs alone on the next idle instance, in
 * arrival order. Priorities and timeouts need a dynamic_batching block, as in Triton.
 */
export class DefaultScheduler extends BatchScheduler {
  private readonly queue = new LinkedQueue<QueuedRequest>();

  constructor(context: SchedulerContext) {
    super(context);
  }

  get queuedCount(): number {
    return this.queue.size;
  }

  protected admit(queued: QueuedRequest): InferenceError | undefined {
    queued.node = this.queue.push(queued);
    return undefined;
  }

  protected remove(queued: QueuedRequest): void {
    if (queued.node) this.queue.remove(queued.node);
    queued.node = undefined;
  }

  protected nextExecution(): Execution | undefined {
    return this.onAnyInstance(this.nextBatch());
  }

  private nextBatch(): QueuedRequest[] | undefined {
    const next = this.queue.shift();
    if (!next) return undefined;
    next.node = undefined;
    return [next];
  }

  protected override putBack(requests: QueuedRequest[]): boolean {
    for (let i = requests.length - 1; i >= 0; i--) requests[i].node = this.queue.unshift(requests[i]);
    return true;
  }

  protected takeAll(): QueuedRequest[] {
    const all = [...this.queue];
    for (const queued of all) this.remove(queued);
    return all;
  }
}
