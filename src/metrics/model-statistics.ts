import type { LatencyObserver } from './latency-observer.js';

/**
 * The statistics of one model version, kept as Triton keeps them for its statistics
 * extension and its Prometheus metrics: cumulative counts and durations (in
 * nanoseconds) that readers sample. Updates are a few additions per request and per
 * execution, from timestamps the scheduler takes once.
 */

export interface DurationStat {
  count: number;
  ns: number;
}

/** Why a request failed, as Triton labels `nv_inference_request_failure`. */
export type FailureReason = 'REJECTED' | 'CANCELED' | 'BACKEND' | 'OTHER';

/** Compute time of the executions of one batch size (in rows). */
export interface BatchStatistics {
  batchSize: number;
  computeInput: DurationStat;
  computeInfer: DurationStat;
  computeOutput: DurationStat;
}

/** Compute durations of one execution, in nanoseconds. */
export interface ComputeDurations {
  inputNs: number;
  inferNs: number;
  outputNs: number;
}

/**
 * Triton's statistics of one response index of a decoupled model's requests: the first
 * response of every request counts under index 0, the second under 1, and so on.
 */
export interface ResponseStatistics {
  /** Computing the response: since the request's previous response (or its execution's start). */
  computeInfer: DurationStat;
  /** Turning the model's output tensors into the response. */
  computeOutput: DurationStat;
  /** Responses with outputs: infer + output time. */
  success: DurationStat;
  /** Error responses: infer + output time. */
  fail: DurationStat;
  /** A final flag without a response: infer time. */
  emptyResponse: DurationStat;
  /** A request closed after its client cancelled it: the time the model took to close it. */
  cancel: DurationStat;
}

/** How one response of a decoupled model ended, for its response index's statistics. */
export type ResponseOutcomeKind = 'success' | 'fail' | 'empty' | 'cancel';

const duration = (): DurationStat => ({ count: 0, ns: 0 });

function add(stat: DurationStat, ns: number): void {
  stat.count++;
  stat.ns += ns;
}

export class ModelStatistics {
  /** Successful requests and their duration from arrival at the scheduler to the answer. */
  readonly success = duration();
  /** Failed requests, whatever the reason, and their duration. */
  readonly fail = duration();
  readonly failures: Record<FailureReason, number> = { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 0 };
  /** Per successful request: time in the queue, and the compute time of the execution it was part of. */
  readonly queue = duration();
  readonly computeInput = duration();
  readonly computeInfer = duration();
  readonly computeOutput = duration();
  /** Requests answered from the response cache, and the time of their lookups. */
  readonly cacheHit = duration();
  /** Requests not found in the response cache, and the time of their lookups and of storing their answers. */
  readonly cacheMiss = duration();
  /** Rows of successful requests (a request of batch size 4 counts 4), as Triton counts them. */
  inferenceCount = 0;
  /** Model executions (one per batch). */
  executionCount = 0;
  /** Wall-clock time of the last execution, in ms since the epoch; 0 before the first. */
  lastInferenceMs = 0;
  private readonly batches = new Map<number, BatchStatistics>();
  private readonly responses: ResponseStatistics[] = [];

  /**
   * `latencies` receives every success's durations, for the latency summaries and
   * histograms that are off by default: when absent, recording costs one more check.
   */
  constructor(private readonly latencies?: LatencyObserver) {}

  /** One execution of `rows` rows. */
  recordExecution(rows: number, compute: ComputeDurations): void {
    this.executionCount++;
    this.lastInferenceMs = Date.now();
    let batch = this.batches.get(rows);
    if (!batch) {
      batch = { batchSize: rows, computeInput: duration(), computeInfer: duration(), computeOutput: duration() };
      this.batches.set(rows, batch);
    }
    add(batch.computeInput, compute.inputNs);
    add(batch.computeInfer, compute.inferNs);
    add(batch.computeOutput, compute.outputNs);
  }

  /**
   * A request of `rows` rows answered with its outputs. `firstResponseNs`: until its first
   * response, for a decoupled model's request; otherwise its one response is the whole request.
   */
  recordSuccess(rows: number, requestNs: number, queueNs: number, compute: ComputeDurations, firstResponseNs = requestNs): void {
    this.inferenceCount += rows;
    add(this.success, requestNs);
    add(this.queue, queueNs);
    add(this.computeInput, compute.inputNs);
    add(this.computeInfer, compute.inferNs);
    add(this.computeOutput, compute.outputNs);
    if (this.latencies !== undefined) this.latencies.observe(requestNs, queueNs, compute, firstResponseNs);
  }

  /** A request answered from the response cache: a success without queueing or execution, not an inference (as Triton's nv_inference_count says). */
  recordCacheHit(lookupNs: number): void {
    add(this.success, lookupNs);
    add(this.cacheHit, lookupNs);
  }

  recordCacheMiss(lookupNs: number): void {
    add(this.cacheMiss, lookupNs);
  }

  /** Time spent storing a missed request's answer, counted in the miss's duration. */
  addCacheMissTime(ns: number): void {
    this.cacheMiss.ns += ns;
  }

  recordFailure(reason: FailureReason, requestNs: number): void {
    add(this.fail, requestNs);
    this.failures[reason]++;
  }

  /**
   * Response `index` (from 0) of a decoupled model's request. A response with outputs or
   * an error counts its compute and output time; a final flag alone (empty, or closing a
   * cancelled request) only the time the model took to send it.
   */
  recordResponse(index: number, kind: ResponseOutcomeKind, inferNs: number, outputNs = 0): void {
    while (this.responses.length <= index) {
      this.responses.push({ computeInfer: duration(), computeOutput: duration(), success: duration(), fail: duration(), emptyResponse: duration(), cancel: duration() });
    }
    const stats = this.responses[index];
    if (kind === 'cancel') return add(stats.cancel, inferNs);
    add(stats.computeInfer, inferNs);
    if (kind === 'empty') return add(stats.emptyResponse, inferNs);
    add(stats.computeOutput, outputNs);
    add(kind === 'success' ? stats.success : stats.fail, inferNs + outputNs);
  }

  /** Per response index, from 0; empty for a model that is not decoupled. */
  responseStatistics(): readonly ResponseStatistics[] {
    return this.responses;
  }

  /** Executions per batch size, smallest first. */
  batchStatistics(): BatchStatistics[] {
    return [...this.batches.values()].sort((a, b) => a.batchSize - b.batchSize);
  }
}
