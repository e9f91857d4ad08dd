import { performance } from 'node:perf_hooks';
import { ExecutionNotStartedError, type ModelInstance } from '../backends/index.js';
import { InferenceError, steadyNsToPerformanceMs, type InferenceRequest, type InferenceResponse } from '../core/index.js';
import type { FailureReason, ModelStatistics } from '../metrics/index.js';
import type { ModelConfig } from '../repository/model-config.js';
import { assembleBatch, batchKey, needsBatchKey, splitResult, type RequestResult } from './batch-assembly.js';
import type { InstancePool } from './instance-pool.js';
import { QueuedRequest } from './queued-request.js';
import { prepareRequest, type PreparedRequest } from './request-validation.js';
import type { ModelScheduler } from './scheduler.js';
import { schedulingParameters, type SchedulingParameters } from './scheduling-parameters.js';

export interface SchedulerContext {
  modelName: string;
  version: string;
  config: ModelConfig;
  pool: InstancePool;
  statistics: ModelStatistics;
}

const MS_TO_NS = 1e6;

/**
 * What every scheduler that feeds a model's instances shares: admission and
 * validation, cancellation by the client, handing batches to idle instances, cutting
 * results back into answers, statistics, and draining. Subclasses decide only how
 * requests wait and which of them form the next batch.
 */
export abstract class BatchScheduler implements ModelScheduler {
  protected readonly modelName: string;
  protected readonly version: string;
  protected readonly config: ModelConfig;
  protected readonly pool: InstancePool;
  protected readonly statistics: ModelStatistics;
  protected draining = false;
  /** Answers are given in dispatch order (dynamic_batching.preserve_ordering). */
  protected preserveOrdering = false;
  /** Requests taken from the queue and not yet answered. */
  private inFlight = 0;
  private readonly keyed: boolean;
  private drained: (() => void) | undefined;
  private nextSequence = 0;
  private nextToAnswer = 0;
  private readonly heldAnswers = new Map<number, () => void>();

  constructor(context: SchedulerContext) {
    this.modelName = context.modelName;
    this.version = context.version;
    this.config = context.config;
    this.pool = context.pool;
    this.statistics = context.statistics;
    this.keyed = needsBatchKey(context.config);
    // Requests queued while every instance was down go as soon as one is back.
    this.pool.onAvailable(() => this.dispatch());
  }

  get pendingCount(): number {
    return this.queuedCount + this.inFlight;
  }

  enqueue(request: InferenceRequest): Promise<InferenceResponse> {
    const arrivalMs = performance.now();
    if (this.draining) {
      return Promise.reject(new InferenceError('UNAVAILABLE', `model '${this.modelName}' version ${this.version} is unloading`));
    }
    let prepared: PreparedRequest;
    let scheduling: SchedulingParameters;
    try {
      prepared = prepareRequest(this.modelName, this.config, request);
      scheduling = schedulingParameters(request.parameters);
    } catch (err) {
      const nowMs = performance.now();
      this.statistics.recordFailure('OTHER', (nowMs - arrivalMs) * MS_TO_NS);
      request.trace?.complete({ version: this.version, queueStartMs: arrivalMs, requestEndMs: nowMs });
      return Promise.reject(err);
    }
    return new Promise<InferenceResponse>((resolve, reject) => {
      const key = this.keyed ? batchKey(prepared.inputs) : '';
      const queued = new QueuedRequest(prepared, arrivalMs, key, resolve, reject);
      const { cancellation } = request;
      if (cancellation?.cancelled) return this.fail(queued, this.cancelled(), 'CANCELED');
      const refusal = this.admit(queued, scheduling);
      if (refusal) return this.fail(queued, refusal, 'REJECTED');
      this.watchCancellation(queued);
      this.dispatch();
    });
  }

  drain(): Promise<void> {
    this.draining = true;
    // A batcher holding requests for a fuller batch sends them now.
    this.dispatch();
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /** Fails everything still queued; called when no instance is left to run it. */
  failQueued(error: InferenceError): void {
    for (const queued of this.takeAll()) this.fail(queued, error, 'BACKEND');
    this.checkDrained();
  }

  /** Requests waiting in the queue: Triton's pending request count. */
  abstract get queuedCount(): number;
  /** Queues a validated request, or returns why it is refused (a full queue). */
  protected abstract admit(queued: QueuedRequest, scheduling: SchedulingParameters): InferenceError | undefined;
  /** Takes a request out of the queue, if it is still there. */
  protected abstract remove(queued: QueuedRequest): void;
  /**
   * Called while an instance is idle: the requests to execute next, taken out of the
   * queue, or undefined to leave the instance idle for now (the subclass then calls
   * dispatch() again when that may change).
   */
  protected abstract nextBatch(nowMs: number): QueuedRequest[] | undefined;
  /** Takes every queued request out of the queue. */
  protected abstract takeAll(): QueuedRequest[];

  /**
   * Puts requests taken for an execution that never began (its instance was lost first)
   * back at the front of the queue, in order; false where the scheduler does not, and
   * they fail instead. Only a scheduler whose instances are handed work ahead needs it.
   */
  protected putBack(_requests: QueuedRequest[]): boolean {
    return false;
  }

  /** Hands batches to instances with a free slot for as long as there are both. */
  protected dispatch(): void {
    while (this.pool.hasFreeSlot) {
      const batch = this.queuedCount > 0 ? this.nextBatch(performance.now()) : undefined;
      if (!batch) break;
      void this.execute(this.pool.acquire()!, batch);
    }
    this.checkDrained();
  }

  /** Answers a request that never reached an instance. */
  protected fail(queued: QueuedRequest, error: InferenceError, reason: FailureReason): void {
    const nowMs = performance.now();
    this.statistics.recordFailure(reason, (nowMs - queued.arrivalMs) * MS_TO_NS);
    queued.prepared.request.trace?.complete({ version: this.version, queueStartMs: queued.arrivalMs, requestEndMs: nowMs });
    queued.settle(undefined, error);
  }

  /** A queued request leaves the queue, answered CANCELLED, when its client goes away (at once if it has). */
  private watchCancellation(queued: QueuedRequest): void {
    const { cancellation } = queued.prepared.request;
    if (!cancellation) return;
    queued.onCancel = () => this.cancel(queued);
    cancellation.subscribe(queued.onCancel);
  }

  private cancelled(): InferenceError {
    return new InferenceError('CANCELLED', `request to model '${this.modelName}' was cancelled by the client`);
  }

  private cancel(queued: QueuedRequest): void {
    if (!queued.node) return;
    this.remove(queued);
    this.fail(queued, this.cancelled(), 'CANCELED');
    this.dispatch();
  }

  private async execute(instance: ModelInstance, batch: QueuedRequest[]): Promise<void> {
    const dispatchMs = performance.now();
    this.inFlight += batch.length;
    for (const queued of batch) {
      queued.leaveQueue();
      queued.sequence = this.nextSequence++;
    }
    let rows = 0;
    for (const queued of batch) rows += queued.rows;
    let results: RequestResult[];
    let computeNs = { inputNs: 0, inferNs: 0, outputNs: 0 };
    // The queue time ends when the instance begins the execution, which is later than
    // the hand-over when the instance still runs earlier work (InstancePool's work-ahead).
    let computeStartMs = dispatchMs;
    let executed = false;
    try {
      const result = await instance.execute(assembleBatch(batch, this.config));
      computeNs = result.timing;
      computeStartMs = Math.max(dispatchMs, steadyNsToPerformanceMs(result.timing.startNs));
      this.statistics.recordExecution(rows, result.timing);
      results = splitResult(result, batch, this.config);
      executed = true;
    } catch (err) {
      if (err instanceof ExecutionNotStartedError && !this.draining && this.putBack(batch)) {
        this.pool.release(instance);
        this.inFlight -= batch.length;
        for (const queued of batch) this.watchCancellation(queued);
        this.dispatch();
        return;
      }
      const error = err instanceof Error ? err.message : String(err);
      results = batch.map(() => ({ error }));
    }
    this.pool.release(instance, executed ? (computeNs.inputNs + computeNs.inferNs + computeNs.outputNs) / MS_TO_NS : undefined);
    const doneMs = performance.now();
    computeStartMs = Math.min(computeStartMs, doneMs);
    batch.forEach((queued, k) => {
      const result = results[k];
      const answer = () => {
        this.inFlight--;
        if ('error' in result) {
          this.statistics.recordFailure('BACKEND', (doneMs - queued.arrivalMs) * MS_TO_NS);
          queued.settle(undefined, new InferenceError(result.code ?? 'INTERNAL', `model '${this.modelName}' version ${this.version} failed: ${result.error}`));
        } else {
          this.statistics.recordSuccess(queued.rows, (doneMs - queued.arrivalMs) * MS_TO_NS, (computeStartMs - queued.arrivalMs) * MS_TO_NS, computeNs);
          queued.settle(this.response(queued.prepared, result.outputs));
        }
        queued.prepared.request.trace?.complete({
          version: this.version,
          queueStartMs: queued.arrivalMs,
          computeStartMs,
          compute: executed ? computeNs : undefined,
          requestEndMs: doneMs,
        });
      };
      if (this.preserveOrdering) this.answerInOrder(queued.sequence, answer);
      else answer();
    });
    this.dispatch();
  }

  private response(prepared: PreparedRequest, outputs: InferenceResponse['outputs']): InferenceResponse {
    const response: InferenceResponse = { model: this.modelName, version: this.version, outputs };
    if (prepared.request.id !== undefined) response.id = prepared.request.id;
    return response;
  }

  /** Holds an answer until every request dispatched before it has been answered. */
  private answerInOrder(sequence: number, answer: () => void): void {
    this.heldAnswers.set(sequence, answer);
    for (let next = this.heldAnswers.get(this.nextToAnswer); next; next = this.heldAnswers.get(this.nextToAnswer)) {
      this.heldAnswers.delete(this.nextToAnswer++);
      next();
    }
  }

  private checkDrained(): void {
    if (this.draining && this.pendingCount === 0 && this.drained) {
      this.drained();
      this.drained = undefined;
    }
  }
}
