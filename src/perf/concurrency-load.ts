/**
 * Concurrency mode (closed loop): each slot keeps exactly one request in flight on
 * its own channel and sends the next as soon as the answer arrives.
 */
import { performance } from 'node:perf_hooks';
import type { ChannelFactory, InferChannel } from './infer-channel.js';
import type { WindowRecorder } from './window-recorder.js';

interface Slot {
  channel: InferChannel;
  retired: boolean;
  busy: boolean;
}

export class ConcurrencyLoad {
  private readonly slots: Slot[] = [];
  private next = 0;
  private inflight = 0;
  private idleWaiter: (() => void) | undefined;

  constructor(
    private readonly factory: ChannelFactory,
    private readonly recorder: WindowRecorder,
    private readonly requestCount: number,
    /** Where this worker starts in the request cycle, so that workers do not all send the same data. */
    offset: number,
  ) {
    this.next = offset;
  }

  /** Adds or retires slots; a retired slot finishes its request in flight, then closes. */
  setSlots(count: number): void {
    const active = this.slots.filter((s) => !s.retired);
    for (const slot of active.slice(count)) {
      slot.retired = true;
      if (!slot.busy) slot.channel.close();
    }
    for (let i = active.length; i < count; i++) {
      const slot: Slot = { channel: this.factory.open(), retired: false, busy: false };
      this.slots.push(slot);
      this.issue(slot);
    }
    for (let i = this.slots.length - 1; i >= 0; i--) if (this.slots[i].retired && !this.slots[i].busy) this.slots.splice(i, 1);
  }

  /** Stops sending; resolves with the number of requests still unanswered after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<number> {
    for (const slot of this.slots) slot.retired = true;
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
    for (const slot of this.slots) slot.channel.close();
    this.slots.length = 0;
    return abandoned;
  }

  private issue(slot: Slot): void {
    const index = this.next;
    this.next = (this.next + 1) % this.requestCount;
    const startedAt = performance.now();
    slot.busy = true;
    this.inflight++;
    this.recorder.sentCount++;
    slot.channel.send(index, (outcome) => {
      this.recorder.record(performance.now() - startedAt, outcome);
      slot.busy = false;
      this.inflight--;
      if (!slot.retired) {
        this.issue(slot);
        return;
      }
      slot.channel.close();
      const at = this.slots.indexOf(slot);
      if (at >= 0 && this.idleWaiter === undefined) this.slots.splice(at, 1);
      if (this.inflight === 0) this.idleWaiter?.();
    });
  }
}
