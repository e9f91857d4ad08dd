/**
 * The operations both frontends serve (MLServer's "data plane"): health, metadata,
 * configuration and inference. Frontends only translate wire formats to and from it.
 */
import { requestEnded, requestStarted } from '../backends/index.js';
import { datatypeFromConfig, InferenceError, type InferenceRequest, type InferenceResponse, type LogControl } from '../core/index.js';
import { modelStatisticsJson, parseTraceSettingsUpdate, type ModelStatisticsJson, type TraceManager, type TraceSettingsJson } from '../metrics/index.js';
import type { IndexEntry, ModelConfig, ModelRegistry, ModelVersion } from '../repository/index.js';
import { logSettingsJson, parseLogSettingsUpdate, type LogSettingsJson } from './log-settings-json.js';
import { OutputDelivery } from './output-delivery.js';
import { routeDeviceTensors, SharedMemoryManager, type DeviceMemoryOpener } from './shared-memory/index.js';

/** The Triton extensions this server actually implements. */
export const EXTENSIONS = [
  'model_configuration',
  'model_repository',
  'binary_tensor_data',
  'classification',
  'system_shared_memory',
  'cuda_shared_memory',
  'statistics',
  'trace',
  'logging',
] as const;

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
  /** The trace extension: settings, sampling and trace files. */
  tracing: TraceManager;
  /** What the logging extension changes; undefined when the server was given a logger of its own making. */
  logControl: LogControl | undefined;
  /** `--allow-client-shm`: clients may register and use shared-memory regions. */
  allowClientShm: boolean;
  /** How CUDA shared memory is opened: cudaIpcOpenMemHandle through the CUDA addon unless given. */
  deviceMemory?: DeviceMemoryOpener;
}

const isDecoupled = (config: ModelConfig) => config.model_transaction_policy?.decoupled === true;

/** Versions in ascending number, as Triton lists them. */
const byVersion = (a: ModelVersion, b: ModelVersion) => Number(a.version) - Number(b.version);

function tensorMetadata(config: ModelConfig, tensors: ModelConfig['input'] | ModelConfig['output']): TensorMetadata[] {
  return tensors.map((t) => ({
    name: t.name,
    datatype: datatypeFromConfig(t.data_type) ?? t.data_type,
    shape: config.max_batch_size > 0 ? [-1, ...t.dims] : [...t.dims],
  }));
}

export class DataPlane {
  /** The shared-memory regions clients registered (both frontends share them, as in Triton). */
  readonly sharedMemory: SharedMemoryManager;
  /** False once the server starts shutting down: readiness fails so that load balancers move away. */
  accepting = true;
  /** When the last inference request arrived (performance.now()), to tell when traffic has stopped. */
  lastInferenceAt = 0;

  constructor(
    readonly registry: ModelRegistry,
    private readonly options: DataPlaneOptions,
  ) {
    this.sharedMemory = new SharedMemoryManager({ allowClientShm: options.allowClientShm, deviceMemory: options.deviceMemory });
  }

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

  /** The configuration of the version that would serve an inference now; throws as `infer` would when none can. */
  servingConfig(name: string, version?: string): ModelConfig {
    return this.registry.resolve(name, version).config;
  }

  /**
   * The version that would serve an inference now (throws as `infer` would when none
   * can), for a frontend that needs its configuration to decode the request: handing it
   * back to `infer` spares a second lookup.
   */
  servingVersion(name: string, version?: string): ModelVersion {
    return this.registry.resolve(name, version);
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

  /** The repository extension's unload; `parameters` may carry `unload_dependents`. */
  unloadModel(name: string, parameters?: Record<string, unknown>): Promise<void> {
    return this.registry.unload(name, parameters);
  }

  /**
   * The statistics extension: every READY version of every model, or of `name`, or
   * version `version` of `name`, with Triton's errors for those that are not READY.
   */
  modelStatistics(name?: string, version?: string): { model_stats: ModelStatisticsJson[] } {
    let versions: ModelVersion[];
    if (!name) {
      versions = this.registry
        .allVersions()
        .filter((v) => v.isReady)
        .sort((a, b) => a.modelName.localeCompare(b.modelName) || byVersion(a, b));
    } else {
      let known: ModelVersion[] = [];
      try {
        known = this.registry.versionsOf(name);
      } catch {
        // An unknown model answers as one without a ready version, as in Triton.
      }
      versions = known.filter((v) => v.isReady).sort(byVersion);
      if (versions.length === 0) throw new InferenceError('INVALID_ARG', `requested model '${name}' is not available`);
      if (version) {
        versions = versions.filter((v) => v.version === version);
        if (versions.length === 0) throw new InferenceError('INVALID_ARG', `requested model version is not available for model '${name}'`);
      }
    }
    return { model_stats: versions.map((v) => modelStatisticsJson(v.modelName, v.version, v.statistics)) };
  }

  logSettings(): LogSettingsJson {
    return logSettingsJson(this.logging().settings);
  }

  /** The logging extension's update; answers the settings now in force. */
  updateLogSettings(body: Record<string, unknown>): LogSettingsJson {
    const control = this.logging();
    control.update(parseLogSettingsUpdate(body));
    return logSettingsJson(control.settings);
  }

  /** The trace settings in force globally, or for `model` (which must be ready, as in Triton). */
  traceSettings(model?: string): TraceSettingsJson {
    if (model !== undefined) this.checkTracedModel(model);
    return this.options.tracing.settings(model);
  }

  /** The trace extension's update of the global settings, or of `model`'s; answers the settings now in force. */
  updateTraceSettings(model: string | undefined, body: Record<string, unknown>): TraceSettingsJson {
    if (model !== undefined) this.checkTracedModel(model);
    return this.options.tracing.update(model, parseTraceSettingsUpdate(body));
  }

  /**
   * `decoupledRefusal`: the frontend's answer (Triton's wording for it) to a request for a
   * decoupled model that it cannot stream to (the request has no onResponse). `resolved`:
   * what servingVersion() answered for the request's model and version, when the frontend asked.
   */
  infer(request: InferenceRequest, decoupledRefusal?: string, resolved?: ModelVersion): Promise<InferenceResponse> {
    requestStarted();
    const answer = this.inferCounted(request, decoupledRefusal, resolved);
    answer.then(requestEnded, requestEnded);
    return answer;
  }

  private inferCounted(request: InferenceRequest, decoupledRefusal?: string, resolved?: ModelVersion): Promise<InferenceResponse> {
    this.lastInferenceAt = performance.now();
    if (this.options.tracing.enabled) request.trace = this.options.tracing.sample(request.model, request.id, this.lastInferenceAt);
    try {
      const model = resolved ?? this.registry.resolve(request.model, request.version);
      if (decoupledRefusal !== undefined && !request.onResponse && isDecoupled(model.config)) throw new InferenceError('UNSUPPORTED', decoupledRefusal);
      const delivery = OutputDelivery.prepare(request, model.config, model.labels, this.sharedMemory);
      const { onResponse } = request;
      if (delivery && onResponse) {
        request.onResponse = (part) => onResponse(part.response ? { ...part, response: delivery.apply(part.response) } : part);
      }
      return routeDeviceTensors(request, model.config, delivery?.sharedMemory, () => {
        const answer = model.requestScheduler.enqueue(request);
        return delivery ? answer.then((response) => (onResponse && isDecoupled(model.config) ? response : delivery.apply(response))) : answer;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Whether the model (at that version, or its highest ready one) is decoupled; throws as infer() would for an unknown or unavailable model. */
  isDecoupled(name: string, version?: string): boolean {
    return isDecoupled(this.registry.resolve(name, version).config);
  }

  private logging(): LogControl {
    if (!this.options.logControl) throw new InferenceError('UNAVAILABLE', 'the server does not support dynamic logging: its logger was not made by createLogger()');
    return this.options.logControl;
  }

  /** As in Triton, a model's trace settings are read and changed only while it is ready (with Triton's message). */
  private checkTracedModel(model: string): void {
    let ready = false;
    try {
      ready = this.isModelReady(model).ready;
    } catch {
      // An unknown model is not ready.
    }
    if (!ready) throw new InferenceError('INVALID_ARG', `Request for unknown model : ${model}`);
  }
}
