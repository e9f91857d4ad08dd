import type { ModelInstance } from '../backends/index.js';

/** What a pool does when one of its instances dies. */
export interface InstanceSupervision {
  /** Starts a fresh copy of the named instance. */
  restart(instanceName: string): Promise<ModelInstance>;
  /** Failures in a row (deaths and failed restarts, without a successful execution between them) tolerated before giving up. */
  maxConsecutiveFailures: number;
  /** Delay before the first restart; it doubles with each further failure in a row. */
  backoffMs: number;
  onDeath(instanceName: string, error: Error): void;
  onRestart(instanceName: string, attempt: number): void;
  /** Called once, with the last failure, when the failures in a row pass the limit; the pool is then closed. */
  onGiveUp(error: Error, failures: number): void;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * The idle/busy bookkeeping of a model's instances, and their supervision: a dead
 * instance leaves the pool at once and a fresh copy takes its place after a back-off.
 * An instance may take `slotsPerInstance` executions at once: the next one then waits in
 * the worker's own queue and starts the moment the current one ends, instead of a
 * round trip to the main thread later.
 */
export class InstancePool {
  private readonly idle: ModelInstance[] = [];
  private readonly live = new Set<ModelInstance>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly availableListeners: Array<() => void> = [];
  private consecutiveFailures = 0;
  private closed = false;

  constructor(
    instances: ModelInstance[],
    private readonly supervision: InstanceSupervision,
    private readonly slotsPerInstance = 1,
  ) {
    for (const instance of instances) this.track(instance);
  }

  get size(): number {
    return this.live.size;
  }

  /** Whether some instance can take an execution now. */
  get hasIdle(): boolean {
    return this.idle.length > 0;
  }

  /** Called whenever an instance joins after a restart, so that waiting work can go. */
  onAvailable(listener: () => void): void {
    this.availableListeners.push(listener);
  }

  acquire(): ModelInstance | undefined {
    return this.idle.pop();
  }

  /** Gives the slot back; a successful execution ends a run of failures. */
  release(instance: ModelInstance, succeeded: boolean): void {
    if (succeeded) this.consecutiveFailures = 0;
    if (this.live.has(instance)) this.idle.push(instance);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    const instances = [...this.live];
    this.live.clear();
    this.idle.length = 0;
    await Promise.all(instances.map((instance) => instance.close()));
  }

  private track(instance: ModelInstance): void {
    this.live.add(instance);
    for (let slot = 0; slot < this.slotsPerInstance; slot++) this.idle.push(instance);
    instance.onFailure((error) => {
      if (!this.live.delete(instance)) return;
      for (let at = this.idle.indexOf(instance); at >= 0; at = this.idle.indexOf(instance)) this.idle.splice(at, 1);
      this.supervision.onDeath(instance.name, error);
      this.failed(instance.name, error);
    });
  }

  private failed(instanceName: string, error: Error): void {
    if (this.closed) return;
    this.consecutiveFailures++;
    if (this.consecutiveFailures > this.supervision.maxConsecutiveFailures) {
      const failures = this.consecutiveFailures;
      void this.close();
      this.supervision.onGiveUp(error, failures);
      return;
    }
    const attempt = this.consecutiveFailures;
    const delay = Math.min(MAX_BACKOFF_MS, this.supervision.backoffMs * 2 ** (attempt - 1));
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      this.supervision.restart(instanceName).then(
        (fresh) => {
          if (this.closed) return void fresh.close();
          this.track(fresh);
          this.supervision.onRestart(instanceName, attempt);
          for (const listener of this.availableListeners) listener();
        },
        (err: unknown) => this.failed(instanceName, err instanceof Error ? err : new Error(String(err))),
      );
    }, delay);
    timer.unref();
    this.restartTimers.add(timer);
  }
}
