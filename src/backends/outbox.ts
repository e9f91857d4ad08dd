/**
 * Messages to another thread, sent together once per event-loop turn. Every
 * postMessage costs a wake-up of the receiving thread and a serialization of its own;
 * under load one turn produces many messages (one per request an HTTP read brought
 * in, one per execution a worker finished), and one postMessage carrying all of them
 * is far cheaper than one each. A lone message waits only for the end of the current
 * turn (setImmediate), so nothing is delayed behind other work.
 */
import type { TransferListItem } from 'node:worker_threads';

export interface MessageTarget {
  postMessage(value: unknown, transfer?: readonly TransferListItem[]): void;
}

interface Entry<T> {
  message: T;
  transfer: readonly TransferListItem[];
  /** Told when the message cannot be sent (a buffer that cannot be transferred). */
  onFailure?: (error: Error) => void;
}

export class Outbox<T> {
  private entries: Array<Entry<T>> = [];
  private scheduled = false;

  /**
   * The receiver gets arrays of messages, in the order they were posted. `afterSend` is
   * called after each postMessage (to ring a doorbell the receiver may be watching).
   */
  constructor(
    private target: MessageTarget,
    private afterSend?: () => void,
  ) {}

  /** From now on messages go to `target` (what was posted before goes first, to the old one). */
  redirect(target: MessageTarget, afterSend?: () => void): void {
    this.flush();
    this.target = target;
    this.afterSend = afterSend;
  }

  post(message: T, transfer: readonly TransferListItem[] = [], onFailure?: (error: Error) => void): void {
    this.entries.push({ message, transfer, onFailure });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Whether nothing waits to be sent. */
  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  /** Sends what is waiting now (also called by the timer set by post()). */
  readonly flush = (): void => {
    this.scheduled = false;
    const entries = this.entries;
    if (entries.length === 0) return;
    this.entries = [];
    const transfer = new Set<TransferListItem>();
    for (const entry of entries) for (const buffer of entry.transfer) transfer.add(buffer);
    try {
      this.target.postMessage(
        entries.map((entry) => entry.message),
        [...transfer],
      );
      this.afterSend?.();
    } catch {
      // One message that cannot be sent must not take the others down with it: send
      // them one by one, and tell the sender of each one that fails.
      for (const entry of entries) {
        try {
          this.target.postMessage([entry.message], entry.transfer);
        } catch (err) {
          entry.onFailure?.(err instanceof Error ? err : new Error(String(err)));
        }
      }
      this.afterSend?.();
    }
  };
}
