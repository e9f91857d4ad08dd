/**
 * The main thread's side of a short execution at low concurrency. With one request in
 * the whole server, the main thread hands the execution to its worker and has nothing
 * to do until the reply: it parks in its event loop, and the reply then costs a thread
 * wake-up (an eventfd write, the kernel scheduling the thread: 25–40 µs here, the
 * largest part of a request's server overhead at concurrency 1). So, when the
 * execution is the only one in flight and the recent ones came back quickly, the main
 * thread watches the reply doorbell the worker rings after each reply (see 'handoff' in
 * worker-protocol.ts) for a bounded while, and takes the reply straight off its port
 * (receiveMessageOnPort).
 *
 * The wait follows the recent round trips (hand-over to reply) and is skipped when they
 * are longer than the limit, or when executions overlap (several in flight, recently):
 * then the main thread has other work, and the reply wakes it as before. An idle server
 * never waits: the main thread waits only right after handing over an execution.
 */
import { performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import { DoorbellWatch } from './doorbell-watch.js';

/** After an execution that overlapped another, this many must run alone before the main thread waits again. */
const SEQUENTIAL_EXECUTIONS = 8;

/**
 * How long, at most, the main thread waits for a reply; NEREID_REPLY_WAIT_US sets it
 * (200 covers a small model's execution and its two hand-offs). Off by default: on the
 * shared 2-core machine where it was written, under load, a main thread that spins
 * takes the core the worker needs, and its benefit could not be shown there
 * (bench/handoff-c1.ts and bench/latency-c1.ts measure it on and off side by side).
 */
const DEFAULT_REPLY_WAIT_MICROS = 0;

export function replyWaitMicros(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.NEREID_REPLY_WAIT_US;
  const value = Number(text);
  return text !== undefined && text !== '' && Number.isFinite(value) && value >= 0 ? value : DEFAULT_REPLY_WAIT_MICROS;
}

/** Executions handed to any instance of this process and not yet answered. */
let executionsInFlight = 0;
/**
 * Inference requests that the servers of this process have received and not yet
 * answered (counted by the server's data plane): an execution runs alone only when its
 * request is the only one. A batcher keeps one execution in flight under heavy load
 * too, and the main thread must not wait then.
 */
let requestsInFlight = 0;

/** An inference request reached the server (see requestsInFlight). */
export function requestStarted(): void {
  requestsInFlight++;
}

export function requestEnded(): void {
  requestsInFlight--;
}

export function executionStarted(): void {
  executionsInFlight++;
}

export function executionsEnded(count = 1): void {
  executionsInFlight -= count;
}

export class ReplyWait {
  /** Watches the reply doorbell; its estimate is of the round trip of an execution that ran alone. */
  private readonly watch: DoorbellWatch;
  /** Executions in a row that ran alone (saturating). */
  private aloneInARow = 0;
  /** Where the execution that runs alone now was handed over (performance.now()), and its id. */
  private timed: { id: number; sinceMs: number } | undefined;

  constructor(
    port: MessagePort,
    doorbell: Int32Array,
    maxWaitMicros: number,
    /** Handles a message taken off the port (as the port's 'message' listener would). */
    handle: (message: unknown) => void,
  ) {
    this.watch = new DoorbellWatch(port, doorbell, Math.max(0, maxWaitMicros) / 1000, handle);
  }

  /** Replies taken off the port by waiting, for tests and diagnostics. */
  get caught(): number {
    return this.watch.caught;
  }

  /**
   * Execution `id` was just sent to the worker, with `executionStarted()` already
   * counted. Waits for its reply if that is worth it (see above).
   */
  handedOver(id: number): void {
    if (this.watch.maxMs === 0) return;
    if (executionsInFlight > 1 || requestsInFlight > 1) {
      this.aloneInARow = 0;
      this.timed = undefined;
      return;
    }
    const start = performance.now();
    this.timed = { id, sinceMs: start };
    if (this.aloneInARow < SEQUENTIAL_EXECUTIONS) {
      this.aloneInARow++;
      return;
    }
    this.watch.watch(start, this.watch.windowMs());
  }

  /** Execution `id` was answered (whichever way its reply came). */
  answered(id: number): void {
    if (this.timed?.id !== id) return;
    this.watch.observe(performance.now() - this.timed.sinceMs);
    this.timed = undefined;
  }
}
