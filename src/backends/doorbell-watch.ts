/**
 * What the two sides of the doorbell hand-off (idle-spin.ts in the worker, reply-wait.ts
 * on the main thread) share: watching a doorbell for a bounded while and taking what
 * arrived straight off its port, and the running estimate that decides how long that
 * while is worth.
 */
import { performance } from 'node:perf_hooks';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { CommandSlotReader } from './command-slot.js';

/** How much more than the recent interval a watch lasts, so that a little jitter still lands in the window. */
const WINDOW_OVER_ESTIMATE = 1.5;
/** Weight of the newest interval in the running estimate. */
const ESTIMATE_WEIGHT = 0.25;

export class DoorbellWatch {
  /** Messages taken off the port by watching, for tests and diagnostics. */
  caught = 0;
  /** Running estimate of the interval a watch waits for (a gap or a round trip), in ms. */
  private estimateMs: number | undefined;

  constructor(
    private readonly port: MessagePort,
    private readonly doorbell: Int32Array,
    /** The longest a watch lasts, in ms; 0 turns watching off. */
    readonly maxMs: number,
    /** Handles a message taken off the port (as the port's 'message' listener would). */
    private readonly handle: (message: unknown) => void,
    /** A command slot the other side may fill instead of posting, watched with the doorbell (see command-slot.ts). */
    private readonly slot?: CommandSlotReader,
  ) {}

  /** Counts one more observed interval of `ms` (a long one counts as twice the limit, so that the estimate forgets it within a few). */
  observe(ms: number): void {
    const interval = Math.min(ms, 2 * this.maxMs);
    this.estimateMs = this.estimateMs === undefined ? interval : (1 - ESTIMATE_WEIGHT) * this.estimateMs + ESTIMATE_WEIGHT * interval;
  }

  /** How long the next watch may last, in ms: 0 when watching is off or the recent intervals were longer than the limit. */
  windowMs(): number {
    if (this.maxMs === 0) return 0;
    if (this.estimateMs === undefined) return this.maxMs;
    if (this.estimateMs > this.maxMs) return 0;
    return Math.min(this.maxMs, this.estimateMs * WINDOW_OVER_ESTIMATE);
  }

  /**
   * Watches the doorbell from `startMs` (performance.now()) for up to `windowMs`, and
   * handles what arrived. What came before the watch began is handled at once (the
   * doorbell already counts it).
   */
  watch(startMs: number, windowMs: number): void {
    if (windowMs <= 0) return;
    const seen = Atomics.load(this.doorbell, 0);
    if (this.drain()) return;
    const { slot } = this;
    slot?.open();
    const deadline = startMs + windowMs;
    while (Atomics.load(this.doorbell, 0) === seen && !slot?.full) {
      if (performance.now() >= deadline) break;
    }
    // What was posted went before what fills the slot (the slot is filled only when nothing else is on its way).
    this.drain();
    const command = slot?.close();
    if (command) {
      this.caught++;
      this.handle([[command]]);
    }
  }

  /** Handles every message waiting on the port; whether there was any. */
  private drain(): boolean {
    let any = false;
    for (let received = receiveMessageOnPort(this.port); received; received = receiveMessageOnPort(this.port)) {
      any = true;
      this.caught++;
      this.handle(received.message);
    }
    return any;
  }
}
