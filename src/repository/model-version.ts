import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defaultModelFilename, loadInstance, type ModelInstance, type ModelSignature } from '../backends/index.js';
import { InferenceError, type Logger } from '../core/index.js';
import { DefaultScheduler, InstancePool, type ModelScheduler } from '../scheduler/index.js';
import { autoCompleteConfig, validateAgainstModel } from './config-completion.js';
import type { ModelConfig, ModelInstanceGroup } from './model-config.js';

export type ModelState = 'LOADING' | 'READY' | 'UNAVAILABLE' | 'UNLOADING';

export interface VersionLoadOptions {
  modelName: string;
  version: string;
  modelDir: string;
  backend: string;
  config: ModelConfig;
  /** `--strict-model-config`: the config must be complete, nothing is filled from the model file. */
  strictModelConfig: boolean;
  logger: Logger;
}

interface InstanceSlot {
  name: string;
}

/** Triton names instances `<group>_<k>`, groups default to `<model>_<index>`. */
function instanceSlots(modelName: string, groups: ModelInstanceGroup[]): InstanceSlot[] {
  const slots: InstanceSlot[] = [];
  groups.forEach((group, index) => {
    if (group.kind === 'KIND_GPU') {
      throw new Error(`instance group '${group.name || `${modelName}_${index}`}' asks for KIND_GPU but no GPU is available (use KIND_CPU or KIND_AUTO)`);
    }
    const groupName = group.name || `${modelName}_${index}`;
    const count = group.count || 1;
    for (let k = 0; k < count; k++) slots.push({ name: `${groupName}_${k}` });
  });
  return slots;
}

/** One version of one model: its state, its completed config and, once READY, its scheduler. */
export class ModelVersion {
  state: ModelState = 'LOADING';
  reason = '';
  config: ModelConfig;
  signature: ModelSignature | undefined;
  private scheduler: DefaultScheduler | undefined;
  private pool: InstancePool | undefined;

  constructor(
    readonly modelName: string,
    readonly version: string,
    config: ModelConfig,
  ) {
    this.config = config;
  }

  get isReady(): boolean {
    return this.state === 'READY';
  }

  /** The scheduler of a READY version. */
  get requestScheduler(): ModelScheduler {
    if (!this.scheduler) throw new InferenceError('UNAVAILABLE', `model '${this.modelName}' version ${this.version} is not ready`);
    return this.scheduler;
  }

  async load(options: VersionLoadOptions): Promise<void> {
    const { logger } = options;
    const instances: ModelInstance[] = [];
    try {
      const fileName = options.config.default_model_filename || defaultModelFilename(options.backend);
      const modelPath = join(options.modelDir, this.version, fileName ?? '');
      if (!fileName || !existsSync(modelPath)) {
        throw new Error(`model file '${modelPath}' not found`);
      }
      const groups = options.config.instance_group.length > 0 ? options.config.instance_group : [];
      const slots = instanceSlots(this.modelName, groups.length > 0 ? groups : [defaultGroup()]);
      const parameters = Object.fromEntries(
        Object.entries(options.config.parameters).map(([key, value]) => [key, value.string_value]),
      );
      // The main thread needs a core of its own; the rest is shared by the instances.
      const defaultIntraOpThreads = Math.max(1, Math.floor((availableParallelism() - 1) / slots.length));
      const load = (slot: InstanceSlot) =>
        loadInstance(options.backend, {
          modelName: this.modelName,
          version: this.version,
          instanceName: slot.name,
          modelPath,
          parameters,
          defaultIntraOpThreads,
          graphOptimizationLevel: options.config.optimization?.graph?.level ?? 0,
        });

      const first = await load(slots[0]);
      instances.push(first);
      let config = options.config;
      if (!options.strictModelConfig) config = autoCompleteConfig(config, first.signature, this.modelName);
      validateAgainstModel(config, first.signature, this.modelName);
      const rest = await Promise.allSettled(slots.slice(1).map(load));
      for (const result of rest) if (result.status === 'fulfilled') instances.push(result.value);
      const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;

      this.config = config;
      this.signature = first.signature;
      this.pool = new InstancePool(instances, (instance, error) => this.onInstanceDeath(instance, error, logger), 8);
      this.scheduler = new DefaultScheduler(this.modelName, this.version, config, this.pool);
      this.state = 'READY';
      this.reason = '';
      logger.info({ model: this.modelName, version: this.version, instances: instances.length }, 'model ready');
    } catch (err) {
      await Promise.all(instances.map((instance) => instance.close()));
      this.markUnavailable(err instanceof Error ? err.message : String(err));
      logger.error({ model: this.modelName, version: this.version, reason: this.reason }, 'model failed to load');
    }
  }

  markUnavailable(reason: string): void {
    this.state = 'UNAVAILABLE';
    this.reason = reason;
  }

  /** Waits for accepted requests to finish, then stops the instances. */
  async unload(): Promise<void> {
    if (this.state === 'READY') this.state = 'UNLOADING';
    await this.scheduler?.drain();
    await this.pool?.close();
    this.scheduler = undefined;
    this.pool = undefined;
    this.state = 'UNAVAILABLE';
    this.reason = 'unloaded';
  }

  private onInstanceDeath(instance: ModelInstance, error: Error, logger: Logger): void {
    logger.error({ model: this.modelName, version: this.version, instance: instance.name, reason: error.message }, 'model instance died');
    if (this.pool && this.pool.size === 0) {
      this.markUnavailable(`every instance has died; last: ${error.message}`);
      this.scheduler?.failQueued(new InferenceError('UNAVAILABLE', `model '${this.modelName}' version ${this.version} is unavailable: ${this.reason}`));
    }
  }
}

function defaultGroup(): ModelInstanceGroup {
  return { name: '', kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '', rate_limiter: undefined };
}
