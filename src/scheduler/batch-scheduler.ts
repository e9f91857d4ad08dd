import { performance } from 'node:perf_hooks';
import { ExecutionNotStartedError, type ExecutionBatch, type ExecutionResult, type ModelInstance, type RequestOutcome } from '../backends/index.js';
import { InferenceError, steadyNsToPerformanceMs, type ErrorCode, type InferenceRequest, type InferenceResponse, type StreamedResponse } from '../core/index.js';
import type { FailureReason, ModelStatistics } from '../metrics/index.js';
import type { ModelConfig } from '../repository/model-config.js';
import { assembleBatch, batchKey, needsBatchKey, splitResult, type RequestResult } from './batch-assembly.js';
import { DecoupledStream } from './decoupled-stream.js';
import type { InstancePool } from './instance-pool.js';
import { QueuedRequest } from './queued-request.js';
import type { RateLimitedInstance } from './rate-limiter.js';
import { prepareRequest, restoreOutputShape, type PreparedRequest } from './request-validation.js';
import type { ModelScheduler } from './scheduler.js';
import { schedulingParameters, type SchedulingParameters } from './scheduling-parameters.js';

export interface SchedulerContext {
  modelName: string;
  version: string;
  config: ModelConfig;
  pool: InstancePool;
  statistics: ModelStatistics;
  /** `--rate-limit execution_count`: each instance's place in the server's rate limiter, by instance name. */
  rateLimits?: ReadonlyMap<string, RateLimitedInstance>;
}

const MS_TO_NS = 1e6;

/**
 * Cancellation flags of executions come out of one SharedArrayBuffer of this many slots,
 * taken in order and never reused (a full one is left to the garbage collector): making
 * a SharedArrayBuffer for every execution, and passing a new one to the worker each time,
 * cost a few µs per execution.
 */
const CANCEL_FLAG_SLAB_SLOTS = 4096;

/** A batch and the instance that runs it. */
export interface Execution {
  instance: ModelInstance;
  batch: QueuedRequest[];
}

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
  private readonly rateLimits: ReadonlyMap<string, RateLimitedInstance> | undefined;
  /** While the rate limiter's dispatch asks for an execution: the instance it has already acquired. */
  protected grantedInstance: ModelInstance | undefined;
  /** Called by the rate limiter once it has granted an instance of this model its resources. */
  private readonly wake = () => this.dispatch();
  /** model_transaction_policy { decoupled: true }: any number of responses per request, through request.onResponse. */
  private readonly decoupled: boolean;
  private cancelFlagSlab: Int32Array | undefined;
  private cancelFlagSlabUsed = 0;

  constructor(context: SchedulerContext) {
    this.modelName = context.modelName;
    this.version = context.version;
    this.config = context.config;
    this.pool = context.pool;
    this.statistics = context.statistics;
    this.rateLimits = context.rateLimits;
    this.keyed = needsBatchKey(context.config);
    this.decoupled = context.config.model_transaction_policy?.decoupled === true;
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
    if (this.decoupled && !request.onResponse) {
      return Promise.reject(
        new InferenceError(
          'UNSUPPORTED',
          `model '${this.modelName}' version ${this.version} is decoupled (model_transaction_policy { decoupled: true }): ` +
            'it may answer a request with any number of responses, which only gRPC ModelStreamInfer can carry',
        ),
      );
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
   * Called while some instance has a free slot: the requests to execute next, taken out
   * of the queue, with the instance to run them on, or undefined to leave the instances
   * idle for now (the subclass then calls dispatch() again when that may change).
   */
  protected abstract nextExecution(nowMs: number): Execution | undefined;
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
    if (this.rateLimits) return this.dispatchRateLimited(this.rateLimits);
    while (this.pool.hasFreeSlot && this.queuedCount > 0) {
      const next = this.nextExecution(performance.now());
      if (!next) break;
      void this.execute(next.instance, next.batch);
    }
    this.checkDrained();
  }

  /**
   * As dispatch(), but an instance takes a batch only once the rate limiter has given it
   * its resources; one that must wait is woken by the limiter (see RateLimiter).
   */
  private dispatchRateLimited(rateLimits: ReadonlyMap<string, RateLimitedInstance>): void {
    while (this.queuedCount > 0 && this.pool.hasFreeSlot) {
      let limit: RateLimitedInstance | undefined;
      const instance = this.pool.acquireWhere((candidate) => {
        if (!this.hasWorkFor(candidate.name)) return false;
        const entry = rateLimits.get(candidate.name);
        if (!entry?.tryAcquire(this.wake)) return false;
        limit = entry;
        return true;
      });
      if (!instance) break;
      this.grantedInstance = instance;
      const next = this.nextExecution(performance.now());
      this.grantedInstance = undefined;
      if (!next) {
        this.pool.release(instance);
        limit!.release();
        break;
      }
      void this.execute(next.instance, next.batch, limit);
    }
    // Resources granted while nothing was left to run them go back to the other models.
    for (const entry of rateLimits.values()) if (entry.granted) entry.release();
    this.checkDrained();
  }

  /**
   * Whether queued work could run on the named instance: the rate limiter is asked only
   * for such instances. Every instance can run any request unless a scheduler pins
   * requests to instances (the sequence batcher).
   */
  protected hasWorkFor(_instanceName: string): boolean {
    return true;
  }

  /** A batch for the instance the rate limiter granted, else for whichever has a free slot (there is one while dispatch() asks). */
  protected onAnyInstance(batch: QueuedRequest[] | undefined): Execution | undefined {
    return batch && { instance: this.grantedInstance ?? this.pool.acquire()!, batch };
  }

  /** The inputs of one execution of `batch`. */
  protected assemble(batch: QueuedRequest[]): ExecutionBatch {
    return assembleBatch(batch, this.config);
  }

  /** Cuts an execution's result into the answers of its requests, in their order. */
  protected split(result: Exclude<ExecutionResult, { kind: 'decoupled' }>, batch: QueuedRequest[]): RequestResult[] {
    return splitResult(result, batch, this.config);
  }

  /** Called once an execution of `batch` is over (whether it succeeded or not), before its requests are answered. */
  protected executionOver(_batch: QueuedRequest[]): void {}

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

  /**
   * While a batch is with an instance, a client that goes away sets its request's slot in
   * a shared flag array the backend can read (see ExecutionBatch.cancelled). Undefined
   * when no request of the batch can be cancelled.
   */
  private watchRunningCancellation(batch: QueuedRequest[]): { flags: Int32Array; stop(): void } | undefined {
    if (!batch.some((queued) => queued.prepared.request.cancellation)) return undefined;
    const flags = this.cancelFlags(batch.length);
    const handlers = batch.map((queued, k) => {
      const handler = () => Atomics.store(flags, k, 1);
      queued.prepared.request.cancellation?.subscribe(handler);
      return handler;
    });
    return {
      flags,
      stop: () => batch.forEach((queued, k) => queued.prepared.request.cancellation?.unsubscribe(handlers[k])),
    };
  }

  /** `count` fresh (zero) flags on shared memory (see CANCEL_FLAG_SLAB_SLOTS). */
  private cancelFlags(count: number): Int32Array {
    if (!this.cancelFlagSlab || this.cancelFlagSlabUsed + count > this.cancelFlagSlab.length) {
      this.cancelFlagSlab = new Int32Array(new SharedArrayBuffer(4 * Math.max(CANCEL_FLAG_SLAB_SLOTS, count)));
      this.cancelFlagSlabUsed = 0;
    }
    const flags = this.cancelFlagSlab.subarray(this.cancelFlagSlabUsed, this.cancelFlagSlabUsed + count);
    this.cancelFlagSlabUsed += count;
    return flags;
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

  private async execute(instance: ModelInstance, batch: QueuedRequest[], limit?: RateLimitedInstance): Promise<void> {
    const dispatchMs = performance.now();
    this.inFlight += batch.length;
    for (const queued of batch) {
      queued.leaveQueue();
      queued.sequence = this.nextSequence++;
    }
    let rows = 0;
    for (const queued of batch) rows += queued.rows;
    const stopWatching = this.watchRunningCancellation(batch);
    let results: RequestResult[];
    let computeNs = { inputNs: 0, inferNs: 0, outputNs: 0 };
    // The queue time ends when the instance begins the execution, which is later than
    // the hand-over when the instance still runs earlier work (InstancePool's work-ahead).
    let computeStartMs = dispatchMs;
    let executed = false;
    const stream = this.decoupled
      ? new DecoupledStream(
          batch,
          (queued, outcome, final) => this.streamedResponse(queued, outcome, final),
          (k, failed, firstMs) => finish(k, failed, firstMs),
          dispatchMs,
          this.statistics,
        )
      : undefined;
    try {
      const assembled: ExecutionBatch = this.assemble(batch);
      if (stopWatching) assembled.cancelled = stopWatching.flags;
      const result = await instance.execute(assembled, stream?.sink);
      computeNs = result.timing;
      computeStartMs = Math.max(dispatchMs, steadyNsToPerformanceMs(result.timing.startNs));
      this.statistics.recordExecution(rows, result.timing);
      if (result.kind !== 'decoupled') results = this.split(result, batch);
      else if (stream) results = [];
      else results = batch.map(() => ({ error: 'the backend streamed responses for a model that is not decoupled' }));
      executed = true;
    } catch (err) {
      if (err instanceof ExecutionNotStartedError && !this.draining && this.putBack(batch)) {
        stopWatching?.stop();
        this.pool.release(instance);
        limit?.release();
        this.inFlight -= batch.length;
        for (const queued of batch) this.watchCancellation(queued);
        this.dispatch();
        return;
      }
      const error = err instanceof Error ? err.message : String(err);
      results = batch.map(() => ({ error }));
    }
    // A decoupled model may go on sending after its execution returned: its requests' cancellation stays visible to it until each is closed.
    const watchUntilClosed = stream !== undefined && results.length === 0 && stopWatching !== undefined;
    if (!watchUntilClosed) stopWatching?.stop();
    let unfinished = batch.length;
    limit?.release();
    this.executionOver(batch);
    this.pool.release(instance, executed ? (computeNs.inputNs + computeNs.inferNs + computeNs.outputNs) / MS_TO_NS : undefined);
    // The instance gets its next batch before this one's answers are given, so that it
    // does not wait for them.
    this.dispatch();
    const returnedMs = performance.now();
    computeStartMs = Math.min(computeStartMs, returnedMs);
    const finish = (k: number, failedInStream: boolean, firstResponseMs = performance.now()) => {
      if (--unfinished === 0 && watchUntilClosed) stopWatching.stop();
      const queued = batch[k];
      const doneMs = Math.max(returnedMs, performance.now());
      this.inFlight--;
      if (failedInStream) this.statistics.recordFailure('BACKEND', (doneMs - queued.arrivalMs) * MS_TO_NS);
      else {
        const sinceArrivalNs = (ms: number) => (ms - queued.arrivalMs) * MS_TO_NS;
        this.statistics.recordSuccess(queued.rows, sinceArrivalNs(doneMs), sinceArrivalNs(computeStartMs), computeNs, sinceArrivalNs(Math.min(firstResponseMs, doneMs)));
      }
      queued.settle(this.response(queued.prepared, []));
      queued.prepared.request.trace?.complete({ version: this.version, queueStartMs: queued.arrivalMs, computeStartMs, compute: computeNs, requestEndMs: doneMs });
      this.checkDrained();
    };
    if (stream && results.length === 0) {
      // A decoupled execution returned: requests closed meanwhile are answered now, the others at their final flag.
      stream.executionReturned();
      this.dispatch();
      return;
    }
    batch.forEach((queued, k) => {
      if (stream) {
        // Closed by its final flag before the execution failed: answered as it was closed.
        const closed = stream.closedBeforeReturn(k);
        if (closed !== undefined) return finish(k, closed, stream.firstResponseMs(k));
        stream.close(k);
      }
      const result = results[k];
      const answer = () => {
        this.inFlight--;
        if (queued.prepared.request.cancellation?.cancelled) {
          // Its client went away while it ran (or waited in the instance): whatever the
          // model made of it, nobody receives the answer.
          this.statistics.recordFailure('CANCELED', (returnedMs - queued.arrivalMs) * MS_TO_NS);
          queued.settle(undefined, this.cancelled());
        } else if ('error' in result) {
          this.statistics.recordFailure('BACKEND', (returnedMs - queued.arrivalMs) * MS_TO_NS);
          queued.settle(undefined, this.modelError(result.error, result.code));
        } else {
          this.statistics.recordSuccess(queued.rows, (returnedMs - queued.arrivalMs) * MS_TO_NS, (computeStartMs - queued.arrivalMs) * MS_TO_NS, computeNs);
          const response = this.response(queued.prepared, result.outputs);
          // A decoupled model on a backend that answers each request once: its one response is final.
          if (stream) queued.prepared.request.onResponse?.({ response, final: true });
          queued.settle(response);
        }
        queued.prepared.request.trace?.complete({
          version: this.version,
          queueStartMs: queued.arrivalMs,
          computeStartMs,
          compute: executed ? computeNs : undefined,
          requestEndMs: returnedMs,
        });
      };
      if (this.preserveOrdering && !stream) this.answerInOrder(queued.sequence, answer);
      else answer();
    });
    this.checkDrained();
  }

  /** A model's failure, as a request's answer. */
  private modelError(message: string, code: ErrorCode = 'INTERNAL'): InferenceError {
    return new InferenceError(code, `model '${this.modelName}' version ${this.version} failed: ${message}`);
  }

  /** One of a decoupled model's responses to a queued request, as its frontend receives it. */
  private streamedResponse(queued: QueuedRequest, outcome: RequestOutcome | undefined, final: boolean): StreamedResponse {
    const part: StreamedResponse = { final };
    if (outcome && 'error' in outcome) part.error = this.modelError(outcome.error, outcome.code);
    // A decoupled model's response need not hold every row of its request (one response per row is common).
    else if (outcome) part.response = this.response(queued.prepared, outcome.outputs.map((output) => restoreOutputShape(this.config, output, output.shape[0] ?? queued.rows)));
    return part;
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
