import type { ModelInstance } from '../backends/index.js';

/**
 * The idle/busy bookkeeping of a model's instances; a dead instance leaves the pool for good.
 * An instance may take `slotsPerInstance` executions at once: the next one then waits in
 * the worker's own queue and starts the moment the current one ends, instead of a
 * round trip to the main thread later.
 */
export class InstancePool {
  private readonly idle: ModelInstance[];
  private readonly live: Set<ModelInstance>;

  constructor(
    instances: ModelInstance[],
    onInstanceDeath: (instance: ModelInstance, error: Error) => void,
    slotsPerInstance = 1,
  ) {
    this.idle = [];
    for (let slot = 0; slot < slotsPerInstance; slot++) this.idle.push(...instances);
    this.live = new Set(instances);
    for (const instance of instances) {
      instance.onFailure((error) => {
        this.live.delete(instance);
        for (let at = this.idle.indexOf(instance); at >= 0; at = this.idle.indexOf(instance)) this.idle.splice(at, 1);
        onInstanceDeath(instance, error);
      });
    }
  }

  get size(): number {
    return this.live.size;
  }

  /** Whether some instance can take an execution now. */
  get hasIdle(): boolean {
    return this.idle.length > 0;
  }

  acquire(): ModelInstance | undefined {
    return this.idle.pop();
  }

  release(instance: ModelInstance): void {
    if (this.live.has(instance)) this.idle.push(instance);
  }

  async close(): Promise<void> {
    const instances = [...this.live];
    this.live.clear();
    this.idle.length = 0;
    await Promise.all(instances.map((instance) => instance.close()));
  }
}
