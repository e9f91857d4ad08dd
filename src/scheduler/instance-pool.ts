import type { ModelInstance } from '../backends/index.js';

/** The idle/busy bookkeeping of a model's instances; a dead instance leaves the pool for good. */
export class InstancePool {
  private readonly idle: ModelInstance[];
  private readonly live: Set<ModelInstance>;

  constructor(instances: ModelInstance[], onInstanceDeath: (instance: ModelInstance, error: Error) => void) {
    this.idle = [...instances];
    this.live = new Set(instances);
    for (const instance of instances) {
      instance.onFailure((error) => {
        this.live.delete(instance);
        const at = this.idle.indexOf(instance);
        if (at >= 0) this.idle.splice(at, 1);
        onInstanceDeath(instance, error);
      });
    }
  }

  get size(): number {
    return this.live.size;
  }

  get idleCount(): number {
    return this.idle.length;
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
