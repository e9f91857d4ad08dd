import { performance } from 'node:perf_hooks';
import type { RequestOutcome, ResponseSink } from '../backends/index.js';
import type { StreamedResponse } from '../core/index.js';
import type { ModelStatistics } from '../metrics/index.js';
import type { QueuedRequest } from './queued-request.js';

/**
 * The requests of one execution of a decoupled model, from hand-over to their final
 * flags: responses go to each request's frontend as they come, before and after the
 * execution returns; a request is answered (statistics, drain) at its final flag, but no
 * earlier than the execution's return, whose timing its statistics need. Each message
 * counts in Triton's per-response-index statistics (response_stats).
 */
export class DecoupledStream {
  private readonly open: Set<number>;
  /** Requests closed before the execution returned, and whether each failed. */
  private readonly closedEarly = new Map<number, boolean>();
  private returned = false;
  /** Whether the last response of each request was an error. */
  private readonly lastFailed = new Set<number>();
  /** performance.now() of each request's first message (response, error or final flag). */
  private readonly firstMs = new Map<number, number>();
  /** Per request: messages so far (the next one's response index), and when the last was handled. */
  private readonly sent: number[];
  private readonly lastMs: number[];

  constructor(
    private readonly batch: readonly QueuedRequest[],
    /** A response of the model to `queued`, as its frontend receives it. */
    private readonly toPart: (queued: QueuedRequest, outcome: RequestOutcome | undefined, final: boolean) => StreamedResponse,
    private readonly finish: (k: number, failed: boolean, firstResponseMs: number | undefined) => void,
    /** When the execution was handed to its instance: the first response is computed from then. */
    startMs: number,
    private readonly statistics: ModelStatistics,
  ) {
    this.open = new Set(batch.map((_, k) => k));
    this.sent = batch.map(() => 0);
    this.lastMs = batch.map(() => startMs);
  }

  readonly sink: ResponseSink = (k, outcome, final) => {
    if (!this.open.has(k)) return;
    const queued = this.batch[k];
    const arrivedMs = performance.now();
    if (!this.firstMs.has(k)) this.firstMs.set(k, arrivedMs);
    const part = this.toPart(queued, outcome, final);
    this.recordResponse(k, part, outcome !== undefined, arrivedMs);
    if (outcome) {
      if (part.error) this.lastFailed.add(k);
      else this.lastFailed.delete(k);
    }
    queued.prepared.request.onResponse?.(part);
    if (!final) return;
    this.open.delete(k);
    if (this.returned) this.finish(k, this.lastFailed.has(k), this.firstMs.get(k));
    else this.closedEarly.set(k, this.lastFailed.has(k));
  };

  private recordResponse(k: number, part: StreamedResponse, hasOutcome: boolean, arrivedMs: number): void {
    const inferNs = (arrivedMs - this.lastMs[k]) * 1e6;
    const index = this.sent[k]++;
    if (hasOutcome) {
      this.lastMs[k] = performance.now();
      this.statistics.recordResponse(index, part.error ? 'fail' : 'success', inferNs, (this.lastMs[k] - arrivedMs) * 1e6);
    } else {
      this.lastMs[k] = arrivedMs;
      this.statistics.recordResponse(index, this.batch[k].prepared.request.cancellation?.cancelled ? 'cancel' : 'empty', inferNs);
    }
  }

  /** Undefined unless request `k` had its final flag before the execution returned; then whether it failed. */
  closedBeforeReturn(k: number): boolean | undefined {
    return this.closedEarly.get(k);
  }

  /** When request `k` had its first message, if it had one. */
  firstResponseMs(k: number): number | undefined {
    return this.firstMs.get(k);
  }

  /** The execution failed, or answered by its result: request `k` is answered there, not here. */
  close(k: number): void {
    this.open.delete(k);
  }

  executionReturned(): void {
    this.returned = true;
    for (const [k, failed] of this.closedEarly) this.finish(k, failed, this.firstMs.get(k));
    this.closedEarly.clear();
  }
}
