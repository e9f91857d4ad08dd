/**
 * The worker side of the doorbell hand-off (see 'handoff' in worker-protocol.ts). A worker
 * parked in its event loop costs a thread wake-up per command (an eventfd write, then
 * the kernel scheduling the thread: tens of µs, far more on a loaded machine), which at
 * low concurrency is most of a request's queue time. So a worker that has just run out of
 * work watches its doorbell for a short while first, and takes the next command straight
 * off its port (receiveMessageOnPort) the moment the main thread rings.
 *
 * It spins only while commands keep coming soon after it goes idle: the window follows
 * the recent gaps between going idle and the next command, and it does not spin at all
 * when they are longer than the limit. An idle server therefore burns at most one window
 * of CPU, then parks. Nor does it spin while requests come concurrently (a command
 * arrived while the worker was still busy, among the last few): the hand-off then carries
 * several executions per wake-up already, and a spinning worker would take the core that
 * the main thread and the clients need.
 */
import { performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import type { CommandSlotReader } from './command-slot.js';
import { DoorbellWatch } from './doorbell-watch.js';

/** After a command that found the worker busy, this many must find it idle before it spins again. */
const SEQUENTIAL_COMMANDS = 8;

export class IdleSpin {
  private idleSinceMs: number | undefined;
  /** Watches the doorbell; its estimate is of the gap between going idle and the next command. */
  private readonly watch: DoorbellWatch;
  /** Commands in a row that found the worker idle (saturating). */
  private idleArrivals = SEQUENTIAL_COMMANDS;
  /** Whether the worker has no command to run (as it has none when the hand-off begins). */
  private waiting = true;

  constructor(
    port: MessagePort,
    doorbell: Int32Array,
    maxSpinMicros: number,
    /** Handles commands taken off the port (as the port's 'message' listener would). */
    handle: (message: unknown) => void,
    /** Where the main thread may put the next command instead of posting it (see command-slot.ts). */
    slot?: CommandSlotReader,
  ) {
    this.watch = new DoorbellWatch(port, doorbell, Math.max(0, maxSpinMicros) / 1000, handle, slot);
  }

  /** Commands taken off the port by spinning, for tests and diagnostics. */
  get caught(): number {
    return this.watch.caught;
  }

  /**
   * Called for every message that reaches the worker, whichever way it came, with the
   * number of commands it carries (several at once also mean concurrent requests).
   */
  arrived(commands = 1): void {
    if (!this.waiting || commands > 1) {
      this.waiting = false;
      this.idleArrivals = 0;
      return;
    }
    this.waiting = false;
    if (this.idleArrivals < SEQUENTIAL_COMMANDS) this.idleArrivals++;
    if (this.idleSinceMs === undefined) return;
    this.watch.observe(performance.now() - this.idleSinceMs);
    this.idleSinceMs = undefined;
  }

  /**
   * The worker has no work left (its replies sent): watch the doorbell for up to the
   * window, and handle what arrives. Returns at once when spinning is off or not worth it.
   */
  idle(): void {
    const start = performance.now();
    this.idleSinceMs = start;
    this.waiting = true;
    this.watch.watch(start, this.windowMs());
  }

  /** How long the next idle() may spin, in µs. */
  get windowMicros(): number {
    return this.windowMs() * 1000;
  }

  private windowMs(): number {
    return this.idleArrivals < SEQUENTIAL_COMMANDS ? 0 : this.watch.windowMs();
  }
}
