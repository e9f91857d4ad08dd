/**
 * Triton's rate limiter (`--rate-limit execution_count`): an execution starts on a model
 * instance only when the resources its instance group lists (`instance_group {
 * rate_limiter { resources [...] priority } }`) are free, and holds them until it ends.
 * Resources are counted per device unless marked `global`; their counts are the largest
 * any loaded instance asks for, unless `--rate-limit-resource` gives them. Instances that
 * wait for resources are served lowest `priority × (executions + 1)` first, so that an
 * instance with priority 2 gets half the turns of one with priority 1 (Triton's weighting).
 */

/** `--rate-limit-resource name:count[:device]`: a count for every device, or for one. */
export interface RateLimitResource {
  name: string;
  count: number;
  /** Absent: every device (and the global pool, for a global resource). */
  device?: number;
}

/** What one instance needs to execute. */
export interface InstanceRateLimit {
  /** `<model>/<version>/<instance>`, for messages. */
  key: string;
  instanceName: string;
  /** The device its per-device resources come from (GPU id; 0 for CPU instances, as in Triton). */
  device: number;
  resources: ReadonlyArray<{ name: string; count: number; global: boolean }>;
  /** 0 counts as 1. */
  priority: number;
}

const GLOBAL = 'global';
const poolKey = (resource: { name: string; global: boolean }, device: number) => `${resource.global ? GLOBAL : `device ${device}`}\0${resource.name}`;

/** One instance's place in the rate limiter. */
export class RateLimitedInstance {
  /** Resources taken for an execution that has not been handed its batch yet. */
  granted = false;
  /** Whether the resources are held (granted, or executing). */
  holding = false;
  executions = 0;
  waiter: (() => void) | undefined;

  constructor(
    readonly limit: InstanceRateLimit,
    private readonly limiter: RateLimiter,
  ) {}

  get scaledPriority(): number {
    return Math.max(1, this.limit.priority) * (this.executions + 1);
  }

  /**
   * Takes the resources for one execution if they are free and no instance that waits
   * longer comes first; otherwise remembers `wake`, called (asynchronously) once they
   * have been granted to this instance. True when the caller may execute now.
   */
  tryAcquire(wake: () => void): boolean {
    return this.limiter.tryAcquire(this, wake);
  }

  /** Gives the resources back after an execution (or an unused grant) and serves waiting instances. */
  release(): void {
    this.limiter.release(this);
  }
}

export class RateLimiter {
  /** Available copies per pool key (`global\0R` or `device N\0R`). */
  private readonly available = new Map<string, number>();
  /** Copies in use per pool key. */
  private readonly used = new Map<string, number>();
  /**
   * Every registered instance. A set, not a map by name: a version being reloaded
   * registers its new instances before the old ones leave, under the same names.
   */
  private readonly instances = new Set<RateLimitedInstance>();
  private readonly waiting = new Set<RateLimitedInstance>();

  constructor(private readonly explicit: readonly RateLimitResource[] = []) {}

  /**
   * Adds a model version's instances. Throws, with Triton's message, when a resource
   * given on the command line has fewer copies than one instance needs: that instance
   * could never run.
   */
  register(limits: readonly InstanceRateLimit[]): RateLimitedInstance[] {
    for (const limit of limits) {
      for (const resource of limit.resources) {
        const given = this.explicitCount(resource, limit.device);
        if (given !== undefined && given < resource.count) {
          throw new Error(
            `Resource count for "${resource.name}" is limited to ${given} which will prevent scheduling of one or more model instances, the minimum required count is ${resource.count}`,
          );
        }
      }
    }
    return limits.map((limit) => {
      const entry = new RateLimitedInstance(limit, this);
      this.instances.add(entry);
      this.recount();
      return entry;
    });
  }

  /** Removes a model version's instances (on unload); resources they hold are freed. */
  unregister(entries: readonly RateLimitedInstance[]): void {
    for (const entry of entries) {
      if (entry.holding) this.free(entry);
      this.waiting.delete(entry);
      this.instances.delete(entry);
    }
    this.recount();
    this.serveWaiting();
  }

  tryAcquire(entry: RateLimitedInstance, wake: () => void): boolean {
    if (entry.granted) {
      entry.granted = false;
      entry.executions++;
      return true;
    }
    if (entry.holding) return false;
    if (this.fits(entry) && !this.outranked(entry)) {
      this.take(entry);
      entry.executions++;
      return true;
    }
    entry.waiter = wake;
    this.waiting.add(entry);
    return false;
  }

  release(entry: RateLimitedInstance): void {
    if (!entry.holding) return;
    entry.granted = false;
    this.free(entry);
    this.serveWaiting();
  }

  private explicitCount(resource: { name: string; global: boolean }, device: number): number | undefined {
    let count: number | undefined;
    for (const given of this.explicit) {
      if (given.name !== resource.name) continue;
      if (given.device === undefined) count ??= given.count;
      else if (!resource.global && given.device === device) return given.count;
    }
    return count;
  }

  /** Each pool holds what the command line gives, or else the most any registered instance needs. */
  private recount(): void {
    const needed = new Map<string, number>();
    for (const { limit } of this.instances) {
      for (const resource of limit.resources) {
        const key = poolKey(resource, limit.device);
        needed.set(key, Math.max(needed.get(key) ?? 0, resource.count));
      }
    }
    this.available.clear();
    for (const { limit } of this.instances) {
      for (const resource of limit.resources) {
        const key = poolKey(resource, limit.device);
        this.available.set(key, this.explicitCount(resource, limit.device) ?? needed.get(key)!);
      }
    }
  }

  private fits(entry: RateLimitedInstance): boolean {
    for (const resource of entry.limit.resources) {
      const key = poolKey(resource, entry.limit.device);
      if ((this.used.get(key) ?? 0) + resource.count > (this.available.get(key) ?? 0)) return false;
    }
    return true;
  }

  /** A waiting instance with a better turn that could use the same resources goes first. */
  private outranked(entry: RateLimitedInstance): boolean {
    if (entry.limit.resources.length === 0) return false;
    for (const other of this.waiting) {
      if (other !== entry && other.scaledPriority < entry.scaledPriority && this.shares(entry, other)) return true;
    }
    return false;
  }

  private shares(a: RateLimitedInstance, b: RateLimitedInstance): boolean {
    const keys = new Set(a.limit.resources.map((r) => poolKey(r, a.limit.device)));
    return b.limit.resources.some((r) => keys.has(poolKey(r, b.limit.device)));
  }

  private take(entry: RateLimitedInstance): void {
    entry.holding = true;
    for (const resource of entry.limit.resources) {
      const key = poolKey(resource, entry.limit.device);
      this.used.set(key, (this.used.get(key) ?? 0) + resource.count);
    }
  }

  private free(entry: RateLimitedInstance): void {
    entry.holding = false;
    for (const resource of entry.limit.resources) {
      const key = poolKey(resource, entry.limit.device);
      this.used.set(key, (this.used.get(key) ?? 0) - resource.count);
    }
  }

  /** Grants freed resources to waiting instances, best turn first; each is woken on the next tick. */
  private serveWaiting(): void {
    const order = [...this.waiting].sort((a, b) => a.scaledPriority - b.scaledPriority);
    for (const entry of order) {
      if (!this.fits(entry)) continue;
      this.waiting.delete(entry);
      this.take(entry);
      entry.granted = true;
      const wake = entry.waiter;
      entry.waiter = undefined;
      if (wake) setImmediate(wake);
    }
  }
}
