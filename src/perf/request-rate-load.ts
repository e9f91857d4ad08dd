/**
 * Request-rate mode (open loop): requests leave on a schedule, whatever the
 * answers do. The schedule is absolute (each send time is the previous one plus a
 * gap) so that timer lateness never lowers the average rate: a late timer sends
 * every request that is due at once, and counts those sent too late as delayed.
 */
import { performance } from 'node:perf_hooks';
import type { RequestDistribution } from './perf-options.js';
import type { ChannelFactory, InferChannel } from './infer-channel.js';
import type { WindowRecorder } from './window-recorder.js';

/** A request that leaves this much after its scheduled time counts as delayed. */
export const DELAY_TOLERANCE_MS = 2;

/**
 * Open connections per worker at most; beyond it requests wait for a free one (and
 * count as delayed) rather than exhausting file descriptors when the server stalls.
 */
const MAX_CHANNELS = 1000;

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
}

export class RequestRateLoad {
  private readonly idle: InferChannel[] = [];
  private readonly all = new Set<InferChannel>();
  private waiting = 0;
  private inflight = 0;
  private next: number;
  private timer: NodeJS.Timeout | undefined;
  private nextAt = 0;
  private gap: () => number = () => Infinity;
  private stopped = false;
  private idleWaiter: (() => void) | undefined;

  constructor(
    private readonly factory: ChannelFactory,
    private readonly recorder: WindowRecorder,
    private readonly requestCount: number,
    offset: number,
  ) {
    this.next = offset;
  }

  /** Restarts the schedule at `rate` requests per second from now, `phase` of a gap late. */
  setRate(rate: number, distribution: RequestDistribution, phase: number, seed: number): void {
    const meanGapMs = 1000 / rate;
    const random = seededRandom(seed);
    this.gap = distribution === 'poisson' ? () => -Math.log(random()) * meanGapMs : () => meanGapMs;
    this.nextAt = performance.now() + phase * meanGapMs;
    this.waiting = 0;
    this.schedule();
  }

  /**
   * Sends what is due now. Called before a window ends: a worker that the OS kept
   * off the CPU past its timer would otherwise count the requests due in this
   * window in the next one.
   */
  catchUp(): void {
    if (!this.stopped) this.tick();
  }

  async stop(timeoutMs: number): Promise<number> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.waiting = 0;
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idleWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const abandoned = this.inflight;
    for (const channel of this.all) channel.close();
    this.all.clear();
    this.idle.length = 0;
    return abandoned;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.nextAt - performance.now()));
  }

  private tick(): void {
    const now = performance.now();
    while (this.nextAt <= now) {
      if (now - this.nextAt > DELAY_TOLERANCE_MS) this.recorder.delayedCount++;
      this.dispatch();
      this.nextAt += this.gap();
    }
    this.schedule();
  }

  private dispatch(): void {
    let channel = this.idle.pop();
    if (!channel) {
      if (this.all.size >= MAX_CHANNELS) {
        this.waiting++;
        return;
      }
      channel = this.factory.open();
      this.all.add(channel);
    }
    this.send(channel);
  }

  private send(channel: InferChannel): void {
    const index = this.next;
    this.next = (this.next + 1) % this.requestCount;
    const startedAt = performance.now();
    this.inflight++;
    this.recorder.sentCount++;
    channel.send(index, (outcome) => {
      this.recorder.record(performance.now() - startedAt, outcome);
      this.inflight--;
      if (this.stopped) {
        if (this.inflight === 0) this.idleWaiter?.();
        return;
      }
      if (this.waiting > 0) {
        this.waiting--;
        this.recorder.delayedCount++;
        this.send(channel);
      } else {
        this.idle.push(channel);
      }
    });
  }
}
