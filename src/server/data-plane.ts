/**
 * The operations both frontends serve (MLServer's "data plane"): health, metadata,
 * configuration and inference. Frontends only translate wire formats to and from it.
 */
import { datatypeFromConfig, InferenceError, type InferenceRequest, type InferenceResponse } from '../core/index.js';
import type { IndexEntry, ModelConfig, ModelRegistry } from '../repository/index.js';
import { OutputDelivery } from './output-delivery.js';
import { SharedMemoryManager } from './shared-memory/index.js';

/** The Triton extensions this server actually implements. */
export const EXTENSIONS = ['model_configuration', 'model_repository', 'binary_tensor_data', 'classification', 'system_shared_memory'] as const;

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface DataPlaneOptions {
  version: string;
  /** `--strict-readiness`: the server is ready only when every model is. */
  strictReadiness: boolean;
}

function tensorMetadata(config: ModelConfig, tensors: ModelConfig['input'] | ModelConfig['output']): TensorMetadata[] {
  return tensors.map((t) => ({
    name: t.name,
    datatype: datatypeFromConfig(t.data_type) ?? t.data_type,
    shape: config.max_batch_size > 0 ? [-1, ...t.dims] : [...t.dims],
  }));
}

export class DataPlane {
  /** The system shared-memory regions clients registered (both frontends share them, as in Triton). */
  readonly sharedMemory = new SharedMemoryManager();
  /** False once the server starts shutting down: readiness fails so that load balancers move away. */
  accepting = true;
  /** When the last inference request arrived (performance.now()), to tell when traffic has stopped. */
  lastInferenceAt = 0;

  constructor(
    readonly registry: ModelRegistry,
    private readonly options: DataPlaneOptions,
  ) {}

  isLive(): boolean {
    return true;
  }

  isReady(): boolean {
    return this.accepting && (!this.options.strictReadiness || this.registry.allReady());
  }

  serverMetadata(): ServerMetadata {
    return { name: 'nereid', version: this.options.version, extensions: [...EXTENSIONS] };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const model = this.registry.find(name, version);
    const versions = version ? [model.version] : this.registry.versionsOf(name).filter((v) => v.isReady).map((v) => v.version);
    return {
      name,
      versions,
      platform: model.config.platform || model.config.backend,
      inputs: tensorMetadata(model.config, model.config.input),
      outputs: tensorMetadata(model.config, model.config.output),
    };
  }

  /** Throws for a model the registry does not know; not ready (with the reason) for a known model that cannot serve. */
  isModelReady(name: string, version?: string): { ready: boolean; reason: string } {
    try {
      const model = this.registry.find(name, version);
      return { ready: model.isReady, reason: model.isReady ? '' : model.reason || model.state };
    } catch (err) {
      if (err instanceof InferenceError && err.code === 'UNAVAILABLE') return { ready: false, reason: err.message };
      throw err;
    }
  }

  modelConfig(name: string, version?: string): ModelConfig {
    return this.registry.find(name, version).config;
  }

  /** Every model version the repositories hold with its state and reason; with `readyOnly`, the READY ones. */
  repositoryIndex(readyOnly = false): IndexEntry[] {
    const entries = this.registry.index();
    return readyOnly ? entries.filter((entry) => entry.state === 'READY') : entries;
  }

  /** The repository extension's load; `parameters` may carry `config` and `file:` overrides. */
  loadModel(name: string, parameters?: Record<string, unknown>): Promise<void> {
    return this.registry.load(name, parameters);
  }

  unloadModel(name: string): Promise<void> {
    return this.registry.unload(name);
  }

  infer(request: InferenceRequest): Promise<InferenceResponse> {
    this.lastInferenceAt = performance.now();
    try {
      const model = this.registry.resolve(request.model, request.version);
      const delivery = OutputDelivery.prepare(request, model.config, model.labels, this.sharedMemory);
      const answer = model.requestScheduler.enqueue(request);
      return delivery ? answer.then((response) => delivery.apply(response)) : answer;
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
