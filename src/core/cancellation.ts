/**
 * A client's "I am gone" for one request. AbortSignal would do, but its EventTarget
 * machinery cost more than half of a small request's main-thread time.
 */
export class Cancellation {
  cancelled = false;
  private handlers: Array<() => void> | undefined;

  /** Runs `handler` when the request is cancelled (at once if it already was). */
  subscribe(handler: () => void): void {
    if (this.cancelled) {
      handler();
      return;
    }
    (this.handlers ??= []).push(handler);
  }

  unsubscribe(handler: () => void): void {
    if (!this.handlers) return;
    const at = this.handlers.indexOf(handler);
    if (at >= 0) this.handlers.splice(at, 1);
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const handlers = this.handlers;
    this.handlers = undefined;
    if (handlers) for (const handler of handlers) handler();
  }
}
