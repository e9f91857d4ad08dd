/**
 * A worker's record of the current measurement window: latencies of successful
 * requests (kept raw and shipped as one transferable array, so that percentiles
 * are computed once, over every worker, in the coordinator), errors by text,
 * and the client-side send/receive times.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { RequestOutcome } from './infer-channel.js';
import type { WorkerWindow } from './worker-protocol.js';

/** Distinct error texts kept per window; a broken run repeats the same few. */
const MAX_ERROR_TEXTS = 20;

export class WindowRecorder {
  private startedAt = performance.now();
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private latencies = new Uint32Array(4096);
  private okCount = 0;
  private errorCount = 0;
  private errors = new Map<string, number>();
  private sendUsSum = 0;
  private recvUsSum = 0;
  sentCount = 0;
  delayedCount = 0;

  /** Requests answered in this window so far, successfully or not. */
  get completedCount(): number {
    return this.okCount + this.errorCount;
  }

  record(latencyMs: number, outcome: RequestOutcome): void {
    if (outcome.error !== undefined) {
      this.errorCount++;
      const seen = this.errors.get(outcome.error);
      if (seen !== undefined) this.errors.set(outcome.error, seen + 1);
      else if (this.errors.size < MAX_ERROR_TEXTS) this.errors.set(outcome.error, 1);
      return;
    }
    if (this.okCount === this.latencies.length) {
      const grown = new Uint32Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.okCount++] = Math.max(1, Math.round(latencyMs * 1000));
    this.sendUsSum += outcome.sendUs;
    this.recvUsSum += outcome.recvUs;
  }

  /** Ends the window: returns its record and starts the next one. */
  take(): WorkerWindow {
    const now = performance.now();
    const window: WorkerWindow = {
      durationMs: now - this.startedAt,
      latenciesUs: this.latencies.slice(0, this.okCount),
      okCount: this.okCount,
      errorCount: this.errorCount,
      errors: Object.fromEntries(this.errors),
      sendUsSum: this.sendUsSum,
      recvUsSum: this.recvUsSum,
      sentCount: this.sentCount,
      delayedCount: this.delayedCount,
      eventLoopUtilization: performance.eventLoopUtilization(this.elu).utilization,
    };
    this.restart(now);
    return window;
  }

  /**
   * Starts a new window now. When the load changes, the successes recorded since
   * the last window are dropped (they belong to no level) but failures are kept,
   * so that every failed request is counted somewhere.
   */
  restart(now = performance.now(), keepErrors = false): void {
    this.startedAt = now;
    this.elu = performance.eventLoopUtilization();
    this.okCount = 0;
    if (!keepErrors) {
      this.errorCount = 0;
      this.errors = new Map();
    }
    this.sendUsSum = 0;
    this.recvUsSum = 0;
    this.sentCount = 0;
    this.delayedCount = 0;
  }
}
