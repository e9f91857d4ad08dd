import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendNameFor, defaultModelFilename } from '../backends/index.js';
import { InferenceError, type Logger } from '../core/index.js';
import { emptyModelConfig, parseModelConfig, type ModelConfig } from './model-config.js';
import { scanRepositories, versionFolders, type ModelLocation } from './repository-scan.js';
import { selectVersions } from './version-policy.js';
import { ModelVersion, type ModelState } from './model-version.js';

export interface RegistryOptions {
  repositories: string[];
  strictModelConfig: boolean;
  logger: Logger;
}

/** A model as the repository knows it: its versions, or why none could be set up. */
interface ModelRecord {
  name: string;
  versions: Map<string, ModelVersion>;
  /** A failure that concerns the whole model (unreadable config, ambiguous name, no versions). */
  error?: string;
}

export interface IndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}

const unknownModel = (name: string) => new InferenceError('INVALID_ARG', `Request for unknown model: '${name}' is not found`);

/** Finds the backend and completes what the repository layout implies, before any version loads. */
function prepareConfig(location: ModelLocation, options: RegistryOptions): { config: ModelConfig; backend: string } {
  const dir = location.dir!;
  const configPath = join(dir, 'config.pbtxt');
  let config: ModelConfig;
  if (existsSync(configPath)) {
    config = parseModelConfig(readFileSync(configPath, 'utf8'), configPath);
  } else if (options.strictModelConfig) {
    throw new Error(`${configPath} not found, and --strict-model-config=true requires one`);
  } else {
    config = emptyModelConfig();
  }
  if (config.name && config.name !== location.name) {
    throw new Error(`${configPath}: name '${config.name}' does not match the model folder '${location.name}'`);
  }
  config = { ...config, name: location.name };

  let backend = backendNameFor(config.platform, config.backend);
  if (!backend && !options.strictModelConfig) {
    const hasOnnx = versionFolders(dir).some((v) => existsSync(join(dir, String(v), config.default_model_filename || 'model.onnx')));
    if (hasOnnx) backend = 'onnxruntime';
  }
  if (!backend || !defaultModelFilename(backend)) {
    const named = config.backend || config.platform;
    throw new Error(named ? `model '${location.name}': unknown backend or platform '${named}'` : `model '${location.name}': config gives no platform or backend and no model.onnx was found`);
  }
  if (backend === 'onnxruntime') config = { ...config, platform: 'onnxruntime_onnx', backend: 'onnxruntime' };
  return { config, backend };
}

/** Every model of the repositories and the versions being served. */
export class ModelRegistry {
  private readonly models = new Map<string, ModelRecord>();

  constructor(private readonly options: RegistryOptions) {}

  /** Loads every model; a model that fails is recorded UNAVAILABLE with its reason and the rest still load. */
  async loadAll(): Promise<void> {
    const locations = scanRepositories(this.options.repositories);
    await Promise.all([...locations.values()].map((location) => this.loadModel(location)));
  }

  private async loadModel(location: ModelLocation): Promise<void> {
    const record: ModelRecord = { name: location.name, versions: new Map() };
    this.models.set(location.name, record);
    const { logger } = this.options;
    try {
      if (location.error) throw new Error(location.error);
      const { config, backend } = prepareConfig(location, this.options);
      const versions = selectVersions(config.version_policy, versionFolders(location.dir!));
      if (versions.length === 0) throw new Error(`model '${location.name}': no version folder under ${location.dir} matches the version policy`);
      const loads = versions.map((v) => {
        const version = new ModelVersion(location.name, String(v), config);
        record.versions.set(version.version, version);
        return version.load({
          modelName: location.name,
          version: version.version,
          modelDir: location.dir!,
          backend,
          config,
          strictModelConfig: this.options.strictModelConfig,
          logger,
        });
      });
      await Promise.all(loads);
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      logger.error({ model: location.name, reason: record.error }, 'model failed to load');
    }
  }

  /** The version a request goes to: the one asked for, or the highest READY one. */
  resolve(name: string, version?: string): ModelVersion {
    const found = this.find(name, version);
    if (!found.isReady) {
      throw new InferenceError('UNAVAILABLE', `model '${name}' version ${found.version} is not ready: ${found.reason || found.state}`);
    }
    return found;
  }

  /** Like resolve, but also returns versions that are not ready (for readiness and config queries). */
  find(name: string, version?: string): ModelVersion {
    const record = this.models.get(name);
    if (!record) throw unknownModel(name);
    if (version !== undefined && version !== '') {
      const found = record.versions.get(version);
      if (!found) throw new InferenceError('INVALID_ARG', `Request for unknown model: '${name}' version ${version} is not found`);
      return found;
    }
    const ordered = [...record.versions.values()].sort((a, b) => Number(b.version) - Number(a.version));
    const ready = ordered.find((v) => v.isReady);
    if (ready) return ready;
    const reason = record.error ?? ordered.map((v) => `version ${v.version}: ${v.reason || v.state}`).join('; ');
    throw new InferenceError('UNAVAILABLE', `model '${name}' has no ready version: ${reason}`);
  }

  /** Versions of a model known to the registry, highest first. */
  versionsOf(name: string): ModelVersion[] {
    const record = this.models.get(name);
    if (!record) throw unknownModel(name);
    return [...record.versions.values()].sort((a, b) => Number(b.version) - Number(a.version));
  }

  /** The repository index: one entry per version, or one per model that could not be set up. */
  index(): IndexEntry[] {
    const entries: IndexEntry[] = [];
    for (const record of [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (record.error) entries.push({ name: record.name, version: '', state: 'UNAVAILABLE', reason: record.error });
      for (const version of record.versions.values()) {
        entries.push({ name: record.name, version: version.version, state: version.state, reason: version.reason });
      }
    }
    return entries;
  }

  /** Every model has its versions READY: what `--strict-readiness` requires of a ready server. */
  allReady(): boolean {
    for (const record of this.models.values()) {
      if (record.error) return false;
      for (const version of record.versions.values()) if (!version.isReady) return false;
    }
    return true;
  }

  /** Requests accepted and not answered, over every model. */
  pendingCount(): number {
    let pending = 0;
    for (const record of this.models.values()) {
      for (const version of record.versions.values()) if (version.isReady) pending += version.requestScheduler.pendingCount;
    }
    return pending;
  }

  async unloadAll(): Promise<void> {
    const versions = [...this.models.values()].flatMap((record) => [...record.versions.values()]);
    await Promise.all(versions.map((version) => version.unload()));
  }
}
