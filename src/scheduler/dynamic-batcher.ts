import { performance } from 'node:perf_hooks';
import { InferenceError } from '../core/index.js';
import type { ModelDynamicBatching } from '../repository/model-config.js';
import { needsBatchKey } from './batch-assembly.js';
import { BatchScheduler, type Execution, type SchedulerContext } from './batch-scheduler.js';
import { PriorityQueue } from './priority-queue.js';
import type { QueuedRequest } from './queued-request.js';
import type { SchedulingParameters } from './scheduling-parameters.js';

/**
 * Triton's dynamic batcher. Whenever an instance is idle it looks at the queue in
 * priority order and grows a batch from its front: requests are taken whole (a
 * client's batch is never split), in order, while they fit max_batch_size and share
 * the first one's non-batch shapes. Unlike Triton, a request of other shapes does not
 * end the batch: later requests of the first one's shapes and priority level still
 * join it, and the skipped request keeps its place at the front for the next batch
 * (without preserve_ordering only, whose answers follow dispatch order). Requests of
 * several shapes interleaved, such as text-line crops of several widths from
 * concurrent images, then still batch. The batch goes at once when it reaches the
 * largest preferred size it can reach (or cannot grow at all); otherwise it waits for
 * more requests until its oldest request has waited max_queue_delay_microseconds.
 * Queue policies apply per priority level: max_queue_size refuses at once, and a
 * request whose timeout expires is rejected (or delayed) by a timer at its deadline.
 */
export class DynamicBatcher extends BatchScheduler {
  private readonly queue: PriorityQueue;
  private readonly preferred: ReadonlySet<number>;
  private readonly maxPreferred: number;
  /** Rows one execution may hold; a model without batching runs one request at a time. */
  private readonly maxRows: number;
  private readonly delayMs: number;
  /**
   * Fewer queued rows than this cannot make a batch that goes before the delay (a
   * preferred size, or max_batch_size), where the queue is one FIFO of alike requests
   * without timeouts; 0 where that shortcut does not apply (see nextBatch).
   */
  private readonly waitBelowRows: number;
  private delayTimeout: NodeJS.Timeout | undefined;
  private delayImmediate: NodeJS.Immediate | undefined;

  constructor(context: SchedulerContext, batching: ModelDynamicBatching) {
    super(context);
    this.queue = new PriorityQueue(batching);
    this.preferred = new Set(batching.preferred_batch_size);
    this.maxPreferred = Math.max(0, ...batching.preferred_batch_size);
    this.maxRows = Math.max(1, context.config.max_batch_size);
    this.delayMs = batching.max_queue_delay_microseconds / 1000;
    this.preserveOrdering = batching.preserve_ordering;
    const simpleQueue = this.queue.untimedSingleLevel && !needsBatchKey(context.config);
    const minPreferred = Math.min(...batching.preferred_batch_size);
    this.waitBelowRows = simpleQueue && this.delayMs > 0 && batching.preferred_batch_size.length > 0 ? Math.min(minPreferred, this.maxRows) : 0;
  }

  get queuedCount(): number {
    return this.queue.size;
  }

  protected admit(queued: QueuedRequest, scheduling: SchedulingParameters): InferenceError | undefined {
    queued.level = this.queue.levelFor(scheduling.priority);
    const limit = this.queue.push(queued);
    if (limit !== undefined) {
      const level = queued.level > 0 ? ` at priority level ${queued.level}` : '';
      return new InferenceError(
        'UNAVAILABLE',
        `Exceeds maximum queue size: model '${this.modelName}' version ${this.version} already queues ${limit} request(s)${level} (max_queue_size ${limit})`,
      );
    }
    const policy = this.queue.policyOf(queued.level);
    let timeoutUs = policy.default_timeout_microseconds;
    // A request may shorten its timeout, never lengthen it; no default timeout counts as unlimited.
    if (policy.allow_timeout_override && scheduling.timeoutUs > 0 && (timeoutUs === 0 || scheduling.timeoutUs < timeoutUs)) {
      timeoutUs = scheduling.timeoutUs;
    }
    if (timeoutUs > 0) {
      queued.timeoutUs = timeoutUs;
      queued.deadlineMs = queued.arrivalMs + timeoutUs / 1000;
      this.armDeadline(queued);
    }
    return undefined;
  }

  protected remove(queued: QueuedRequest): void {
    this.queue.remove(queued);
  }

  protected takeAll(): QueuedRequest[] {
    this.clearDelayTimer();
    return this.queue.takeAll();
  }

  protected nextExecution(nowMs: number): Execution | undefined {
    return this.onAnyInstance(this.nextBatch(nowMs));
  }

  private nextBatch(nowMs: number): QueuedRequest[] | undefined {
    // While a batch waits for more requests, each arrival would otherwise scan the queue
    // and set the timer again: when the queue holds too few rows to make a batch that goes
    // now, and the timer set for its oldest request is still to come, nothing changes.
    if (this.queue.rows < this.waitBelowRows && !this.draining && (this.delayTimeout || this.delayImmediate)) {
      const oldest = this.queue.front();
      if (oldest && nowMs - oldest.arrivalMs < this.delayMs) return undefined;
    }
    this.clearDelayTimer();
    const candidates: QueuedRequest[] = [];
    let rows = 0;
    let bestCount = 0;
    let stopped = false;
    let oldestMs = Infinity;
    for (const queued of this.queue) {
      if (queued.deadlineMs > 0 && nowMs >= queued.deadlineMs) {
        this.expire(queued);
        continue;
      }
      if (candidates.length > 0) {
        if (queued.batchKey !== candidates[0].batchKey) {
          // The skipped request is waiting, so the batch goes without waiting for the delay.
          stopped = true;
          if (this.preserveOrdering || queued.level !== candidates[0].level) break;
          continue;
        }
        // Past the largest preferred size, the batch can no longer become a preferred size by growing.
        if (rows + queued.rows > this.maxPreferred && bestCount === 0) bestCount = candidates.length;
        if (rows + queued.rows > this.maxRows) {
          stopped = true;
          break;
        }
      }
      candidates.push(queued);
      rows += queued.rows;
      if (queued.arrivalMs < oldestMs) oldestMs = queued.arrivalMs;
      if (this.preferred.has(rows)) bestCount = candidates.length;
    }
    if (candidates.length === 0) return undefined;

    const waitedMs = nowMs - oldestMs;
    const delayExceeded = this.draining || (this.delayMs > 0 && waitedMs >= this.delayMs);
    if (bestCount > 0 && !delayExceeded) return this.take(candidates.slice(0, bestCount));
    if (stopped || rows >= this.maxPreferred || delayExceeded || this.delayMs === 0) return this.take(candidates);
    this.armDelayTimer(this.delayMs - waitedMs);
    return undefined;
  }

  private take(batch: QueuedRequest[]): QueuedRequest[] {
    for (const queued of batch) this.remove(queued);
    return batch;
  }

  /** Applies the queue policy to a request whose timeout has expired. */
  private expire(queued: QueuedRequest): void {
    const policy = this.queue.policyOf(queued.level);
    if (policy.timeout_action === 'DELAY') {
      queued.deadlineMs = 0;
      this.queue.delay(queued);
      return;
    }
    this.remove(queued);
    this.fail(
      queued,
      new InferenceError(
        'UNAVAILABLE',
        `Request timeout expired: request to model '${this.modelName}' version ${this.version} waited in the queue past its timeout of ${queued.timeoutUs} microseconds`,
      ),
      'REJECTED',
    );
  }

  /**
   * Expires the request at its deadline, whether or not an instance frees up. Node's
   * timers measure from the event loop's cached clock and may fire a little early, so
   * an early wake-up waits again for the remainder.
   */
  private armDeadline(queued: QueuedRequest): void {
    const remainingMs = queued.deadlineMs - performance.now();
    queued.timer = setTimeout(() => {
      queued.timer = undefined;
      if (!queued.node || queued.deadlineMs === 0) return;
      if (performance.now() < queued.deadlineMs) return this.armDeadline(queued);
      this.expire(queued);
      this.dispatch();
    }, Math.max(1, Math.ceil(remainingMs)));
  }

  /**
   * Wakes the batcher when the pending batch has waited long enough. setTimeout has
   * millisecond granularity, so the last fraction of a millisecond is waited out with
   * setImmediate, which still lets arriving requests in between.
   */
  private armDelayTimer(remainingMs: number): void {
    const wake = () => {
      this.delayTimeout = this.delayImmediate = undefined;
      this.dispatch();
    };
    if (remainingMs >= 1) this.delayTimeout = setTimeout(wake, Math.floor(remainingMs));
    else this.delayImmediate = setImmediate(wake);
  }

  private clearDelayTimer(): void {
    if (this.delayTimeout) clearTimeout(this.delayTimeout);
    if (this.delayImmediate) clearImmediate(this.delayImmediate);
    this.delayTimeout = this.delayImmediate = undefined;
  }
}
