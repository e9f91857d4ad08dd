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
 * With several executions allowed per instance, each instance is handed about this much
 * work (by the mean execution time) beyond the execution it runs.
 */
const WORK_AHEAD_MS = 1;
/** Before any execution has been timed, an instance holds at most this many. */
const UNTIMED_SLOTS = 2;

/**
 * The idle/busy bookkeeping of a model's instances, and their supervision: a dead
 * instance leaves the pool at once and a fresh copy takes its place after a back-off.
 * An instance may hold several executions at once (up to `maxSlotsPerInstance`): the
 * next ones then wait in the worker's own queue and start the moment the current one
 * ends, instead of a round trip to the main thread later. How many it holds follows the
 * mean execution time, so that a fast model is fed far enough ahead to never wait on
 * the main thread, while a slow one is handed little more than what it runs (work
 * handed to a worker can no longer be cancelled by its client).
 */
export class InstancePool {
  /** Executions each live instance holds now. */
  private readonly executing = new Map<ModelInstance, number>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly availableListeners: Array<() => void> = [];
  private consecutiveFailures = 0;
  private closed = false;
  private meanExecutionMs: number | undefined;

  constructor(
    instances: ModelInstance[],
    private readonly supervision: InstanceSupervision,
    private readonly maxSlotsPerInstance = 1,
  ) {
    for (const instance of instances) this.track(instance);
  }

  get size(): number {
    return this.executing.size;
  }

  /** Whether some instance can take an execution now. */
  get hasFreeSlot(): boolean {
    return this.leastBusy() !== undefined;
  }

  /** Called whenever an instance joins after a restart, so that waiting work can go. */
  onAvailable(listener: () => void): void {
    this.availableListeners.push(listener);
  }

  /** The instance holding the fewest executions, if it can take one more; it then counts it. */
  acquire(): ModelInstance | undefined {
    const instance = this.leastBusy();
    if (instance) this.executing.set(instance, this.executing.get(instance)! + 1);
    return instance;
  }

  /** Names of the live instances. A restarted instance keeps its predecessor's name. */
  get instanceNames(): string[] {
    return [...this.executing.keys()].map((instance) => instance.name);
  }

  /**
   * Takes a slot of the live instance with this name, if it has one free: for work
   * pinned to an instance (a sequence stays on its instance, restarts included).
   */
  acquireNamed(name: string): ModelInstance | undefined {
    const limit = this.slotsPerInstance;
    for (const [instance, count] of this.executing) {
      if (instance.name !== name) continue;
      if (count >= limit) return undefined;
      this.executing.set(instance, count + 1);
      return instance;
    }
    return undefined;
  }

  /** Whether the live instance with this name could take an execution now. */
  hasFreeSlotNamed(name: string): boolean {
    const limit = this.slotsPerInstance;
    for (const [instance, count] of this.executing) if (instance.name === name) return count < limit;
    return false;
  }

  /**
   * Like acquire(), among the instances with a free slot for which `usable` holds (asked
   * least busy first, and only until one says yes).
   */
  acquireWhere(usable: (instance: ModelInstance) => boolean): ModelInstance | undefined {
    const limit = this.slotsPerInstance;
    const candidates = [...this.executing].filter(([, count]) => count < limit).sort((a, b) => a[1] - b[1]);
    for (const [instance, count] of candidates) {
      if (!usable(instance)) continue;
      this.executing.set(instance, count + 1);
      return instance;
    }
    return undefined;
  }

  /**
   * Gives the slot back. `executionMs` (the worker's own timing) is given for an
   * execution that succeeded: it ends a run of failures and feeds the mean execution time.
   */
  release(instance: ModelInstance, executionMs?: number): void {
    if (executionMs !== undefined) {
      this.consecutiveFailures = 0;
      this.meanExecutionMs = this.meanExecutionMs === undefined ? executionMs : 0.9 * this.meanExecutionMs + 0.1 * executionMs;
    }
    const count = this.executing.get(instance);
    if (count !== undefined) this.executing.set(instance, count - 1);
  }

  private get slotsPerInstance(): number {
    if (this.maxSlotsPerInstance <= UNTIMED_SLOTS) return this.maxSlotsPerInstance;
    if (this.meanExecutionMs === undefined) return UNTIMED_SLOTS;
    return Math.min(this.maxSlotsPerInstance, 1 + Math.ceil(WORK_AHEAD_MS / Math.max(this.meanExecutionMs, 1e-3)));
  }

  private leastBusy(): ModelInstance | undefined {
    let best: ModelInstance | undefined;
    let fewest = this.slotsPerInstance;
    for (const [instance, count] of this.executing) {
      if (count < fewest) {
        best = instance;
        fewest = count;
      }
    }
    return best;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    const instances = [...this.executing.keys()];
    this.executing.clear();
    await Promise.all(instances.map((instance) => instance.close()));
  }

  private track(instance: ModelInstance): void {
    this.executing.set(instance, 0);
    instance.onFailure((error) => {
      if (!this.executing.delete(instance)) return;
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
