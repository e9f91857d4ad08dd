import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { InferenceError, type Logger } from '../core/index.js';
import type { ModelResolver } from '../ensemble/index.js';
import type { ModelStatistics } from '../metrics/index.js';
import type { ResponseCache } from '../scheduler/index.js';
import type { ModelConfig } from './model-config.js';
import {
  loadOverridesFromParameters,
  materializeOverrideFiles,
  modelFingerprint,
  prepareModel,
  treeFingerprint,
  versionFingerprint,
  type LoadOverrides,
  type PreparedModel,
} from './model-source.js';
import { ModelVersion, type InstanceRestartPolicy, type ModelState } from './model-version.js';
import { scanRepositories, versionFolders } from './repository-scan.js';
import { unloadOptionsFromParameters } from './unload-parameters.js';
import { selectVersions } from './version-policy.js';

export type ModelControlMode = 'none' | 'poll' | 'explicit';

export interface RegistryOptions {
  repositories: string[];
  strictModelConfig: boolean;
  /** `--model-control-mode`; default `none`. */
  controlMode?: ModelControlMode;
  /** `--load-model` in explicit mode; `*` loads everything. */
  startupModels?: string[];
  restartPolicy?: InstanceRestartPolicy;
  /** `--cache-config`: the response cache shared by the models that enable it. */
  responseCache?: ResponseCache;
  logger: Logger;
  /** Makes each new version's statistics (the metrics give them their latency observers); plain ones by default. */
  createStatistics?: (model: string, version: string) => ModelStatistics;
}

const DEFAULT_RESTART_POLICY: InstanceRestartPolicy = { maxConsecutiveFailures: 5, backoffMs: 100 };

/** A model as the registry knows it: its versions, or why none could be set up. */
interface ModelRecord {
  name: string;
  versions: Map<string, ModelVersion>;
  /** A failure that concerns the whole model (unreadable config, ambiguous name, no versions). */
  error?: string;
  /** Counts for `--strict-readiness`: loaded at start-up, or loaded later and READY once. */
  required: boolean;
  /** What the versions were loaded from: poll mode reloads a model when its tree changes. */
  treeFingerprint?: string;
  modelFingerprint?: string;
  configJson?: string;
  versionFingerprints: Map<string, string>;
  /** A folder written from a load request's files, removed when the model goes. */
  overrideDir?: string;
}

export interface IndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}

const unknownModel = (name: string) => new InferenceError('INVALID_ARG', `Request for unknown model: '${name}' is not found`);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Every model of the repositories, the versions being served, and their loading and unloading. */
export class ModelRegistry {
  private readonly models = new Map<string, ModelRecord>();
  /** Load and unload of one model run one after the other; different models proceed in parallel. */
  private readonly operations = new Map<string, Promise<unknown>>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  /** The models each ensemble's load is waiting for; a wait that would close a circle is skipped. */
  private readonly stepWaits = new Map<string, Set<string>>();

  /** The READY version behind an ensemble step or a model's infer() call. */
  private readonly resolveModel: ModelResolver = (name, version) => {
    const found = this.resolve(name, version);
    return { config: found.config, scheduler: found.requestScheduler };
  };

  constructor(private readonly options: RegistryOptions) {}

  get controlMode(): ModelControlMode {
    return this.options.controlMode ?? 'none';
  }

  /** The start-up load: every model, or in explicit mode those named by `--load-model`. */
  async loadAll(): Promise<void> {
    const locations = scanRepositories(this.options.repositories);
    let names = [...locations.keys()];
    if (this.controlMode === 'explicit') {
      const wanted = this.options.startupModels ?? [];
      names = wanted.includes('*') ? names : wanted;
    }
    await Promise.all(
      names.map((name) =>
        this.serialized(name, () => this.loadModel(name, {}, true)).catch((err) =>
          this.options.logger.error({ model: name, reason: messageOf(err) }, 'model failed to load'),
        ),
      ),
    );
  }

  /** The repository extension's load: (re)loads `name`; the old versions serve until the new ones are READY. */
  load(name: string, parameters?: Record<string, unknown>): Promise<void> {
    this.checkControlAllowed();
    const overrides = loadOverridesFromParameters(name, parameters);
    return this.serialized(name, () => this.loadModel(name, overrides, false));
  }

  /**
   * The repository extension's unload: no new requests, in-flight ones finish, then the
   * instances stop. With `unload_dependents` the ensembles that use the model, directly
   * or through other ensembles, are unloaded first; without it they become UNAVAILABLE.
   */
  async unload(name: string, parameters?: Record<string, unknown>): Promise<void> {
    this.checkControlAllowed();
    const { unloadDependents } = unloadOptionsFromParameters(name, parameters);
    if (unloadDependents) {
      await Promise.all(
        this.dependentsOf(name).map((dependent) =>
          this.serialized(dependent.name, async () => {
            await this.unloadRecord(dependent);
            this.options.logger.info({ model: dependent.name, uses: name }, 'model unloaded with a model it uses (unload_dependents)');
          }),
        ),
      );
    }
    return this.serialized(name, async () => {
      const record = this.models.get(name);
      if (!record) throw new InferenceError('INVALID_ARG', `failed to unload '${name}': no such model is loaded`);
      await this.unloadRecord(record);
      this.options.logger.info({ model: name }, 'model unloaded');
    });
  }

  /** Poll mode: loads new models, reloads changed ones, unloads removed ones. */
  startPolling(intervalMs: number): void {
    this.pollTimer = setInterval(() => {
      this.polling ??= this.poll().finally(() => (this.polling = undefined));
    }, intervalMs);
    this.pollTimer.unref();
  }

  /** One pass of poll mode; exported so that a test or an operator can trigger it at once. */
  async poll(): Promise<void> {
    const locations = scanRepositories(this.options.repositories);
    const work: Promise<unknown>[] = [];
    for (const [name, location] of locations) {
      const record = this.models.get(name);
      if (record && (location.error ? record.error === location.error : !this.changed(record, location.dir!))) continue;
      work.push(this.serialized(name, () => this.loadModel(name, {}, true)).catch(() => undefined));
    }
    for (const record of this.models.values()) {
      if (locations.has(record.name) || record.overrideDir) continue;
      work.push(
        this.serialized(record.name, async () => {
          await this.unloadRecord(record);
          this.models.delete(record.name);
          this.options.logger.info({ model: record.name }, 'model removed from the repository: unloaded');
        }),
      );
    }
    await Promise.all(work);
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
    const ordered = this.versionsOf(name);
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

  /** Every version the registry holds, model by model, whatever its state. */
  allVersions(): ModelVersion[] {
    return [...this.models.values()].flatMap((record) => [...record.versions.values()]);
  }

  /**
   * The repository index: one entry per version, one per model that could not be set
   * up, and one per model of the repositories that is not loaded.
   */
  index(): IndexEntry[] {
    const entries: IndexEntry[] = [];
    for (const record of this.models.values()) {
      if (record.error) entries.push({ name: record.name, version: '', state: 'UNAVAILABLE', reason: record.error });
      for (const version of record.versions.values()) {
        entries.push({ name: record.name, version: version.version, state: version.state, reason: version.reason });
      }
    }
    for (const name of scanRepositories(this.options.repositories).keys()) {
      if (!this.models.has(name)) entries.push({ name, version: '', state: 'UNAVAILABLE', reason: 'not loaded' });
    }
    return entries.sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  /**
   * What `--strict-readiness` requires of a ready server: every model that should be
   * serving is. A model loaded later in explicit mode counts only once it was READY, so
   * that loading one more model never makes a healthy server look unhealthy.
   */
  allReady(): boolean {
    for (const record of this.models.values()) {
      if (!record.required) continue;
      if (record.error) return false;
      for (const version of record.versions.values()) if (!version.isReady) return false;
    }
    return true;
  }

  /** Models that should serve but do not, as index entries: what `--exit-on-error` refuses. */
  loadFailures(): IndexEntry[] {
    const failed = new Set([...this.models.values()].filter((r) => r.required).map((r) => r.name));
    return this.index().filter((entry) => failed.has(entry.name) && entry.state !== 'READY');
  }

  async unloadAll(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.polling;
    await Promise.all([...this.models.values()].map((record) => this.serialized(record.name, () => this.unloadRecord(record))));
  }

  private checkControlAllowed(): void {
    if (this.controlMode !== 'explicit') {
      throw new InferenceError(
        'UNAVAILABLE',
        `explicit model load / unload is not allowed if polling is enabled (this server's model control mode is '${this.controlMode}'; start it with --model-control-mode=explicit)`,
      );
    }
  }

  /** Runs `operation` after every earlier one on `name`; then the ensembles that use `name` check their steps again. */
  private serialized<T>(name: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.operations.get(name) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(operation)
      .finally(() => this.refreshDependents(name));
    const settled = next.catch(() => undefined);
    this.operations.set(name, settled);
    void settled.then(() => {
      if (this.operations.get(name) === settled) this.operations.delete(name);
    });
    return next;
  }

  /** Loaded ensembles that use `name` as a step, directly or through other ensembles. */
  private dependentsOf(name: string): ModelRecord[] {
    const found = new Map<string, ModelRecord>();
    const visit = (model: string) => {
      for (const record of this.models.values()) {
        if (found.has(record.name) || record.name === name || !this.usesAsStep(record, model)) continue;
        found.set(record.name, record);
        visit(record.name);
      }
    };
    visit(name);
    return [...found.values()];
  }

  private usesAsStep(record: ModelRecord, model: string): boolean {
    return [...record.versions.values()].some((version) => version.config.ensemble_scheduling?.step.some((step) => step.model_name === model));
  }

  /**
   * `name` was loaded, reloaded or unloaded, or gave up: every ensemble that uses it
   * checks its steps again (becoming READY or UNAVAILABLE with the reason), and so do
   * the ensembles that use those in turn.
   */
  private refreshDependents(name: string, seen = new Set<string>([name])): void {
    for (const record of this.models.values()) {
      if (seen.has(record.name) || !this.usesAsStep(record, name)) continue;
      seen.add(record.name);
      for (const version of record.versions.values()) version.refreshEnsemble();
      this.refreshDependents(record.name, seen);
    }
  }

  /**
   * An ensemble's step models come before it: a step model being loaded is waited for,
   * and in explicit mode one that is not loaded is loaded now, as Triton does.
   */
  private async loadSteps(name: string, config: ModelConfig, required: boolean): Promise<void> {
    const steps = new Set((config.ensemble_scheduling?.step ?? []).map((step) => step.model_name));
    const waits = new Set<string>();
    this.stepWaits.set(name, waits);
    try {
      await Promise.all(
        [...steps].map(async (step) => {
          // Ensembles that use each other would wait for each other forever; they report the step as not ready instead.
          if (this.waitsFor(step, name)) return;
          waits.add(step);
          await this.operations.get(step);
          if (this.controlMode !== 'explicit' || this.hasReadyVersion(step) || !scanRepositories(this.options.repositories).has(step)) return;
          await this.serialized(step, () => this.loadModel(step, {}, required)).catch(() => undefined);
        }),
      );
    } finally {
      this.stepWaits.delete(name);
    }
  }

  /** Whether the load of `from` waits, directly or through others, for the load of `to`. */
  private waitsFor(from: string, to: string, seen = new Set<string>()): boolean {
    if (from === to) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    for (const next of this.stepWaits.get(from) ?? []) if (this.waitsFor(next, to, seen)) return true;
    return false;
  }

  private hasReadyVersion(name: string): boolean {
    const record = this.models.get(name);
    return record !== undefined && [...record.versions.values()].some((version) => version.isReady);
  }

  private changed(record: ModelRecord, dir: string): boolean {
    return !record.overrideDir && record.treeFingerprint !== treeFingerprint(dir);
  }

  private modelDirectory(name: string, overrides: LoadOverrides): string {
    if (overrides.files) return materializeOverrideFiles(name, overrides.files);
    const location = scanRepositories(this.options.repositories).get(name);
    if (!location) {
      throw new InferenceError('INVALID_ARG', `failed to load '${name}': no model folder '${name}' in the model repositories (${this.options.repositories.join(', ')})`);
    }
    if (location.error) throw new InferenceError('INVALID_ARG', `failed to load '${name}': ${location.error}`);
    return location.dir!;
  }

  /**
   * Loads what changed of one model. A version whose files and config are unchanged
   * keeps serving untouched; a new version replaces the old only once READY, and a
   * failed reload leaves the old one serving with the failure as its reason.
   */
  private async loadModel(name: string, overrides: LoadOverrides, required: boolean): Promise<void> {
    const { logger } = this.options;
    const known = this.models.get(name);
    // A name the repositories do not hold leaves no trace unless it was loaded before.
    if (!known && !overrides.files && !scanRepositories(this.options.repositories).has(name)) this.modelDirectory(name, overrides);
    const record: ModelRecord = known ?? { name, versions: new Map(), required, versionFingerprints: new Map() };
    this.models.set(name, record);
    record.required ||= required;

    let prepared: PreparedModel;
    let selected: string[];
    let modelDir: string | undefined;
    try {
      modelDir = this.modelDirectory(name, overrides);
      prepared = prepareModel(name, modelDir, this.options.strictModelConfig, overrides.configJson);
      selected = selectVersions(prepared.config.version_policy, versionFolders(modelDir)).map(String);
      if (selected.length === 0) throw new Error(`no version folder under ${modelDir} matches the version policy`);
    } catch (err) {
      const reason = messageOf(err).replace(`failed to load '${name}': `, '');
      if ([...record.versions.values()].some((v) => v.isReady)) {
        for (const version of record.versions.values()) if (version.isReady) version.reason = `reload failed, still serving the previous load: ${reason}`;
      } else {
        record.error = reason;
      }
      if (modelDir && !overrides.files) record.treeFingerprint = treeFingerprint(modelDir);
      logger.error({ model: name, reason }, 'model failed to load');
      throw new InferenceError('INVALID_ARG', `failed to load '${name}': ${reason}`);
    }
    if (prepared.backend === 'ensemble') await this.loadSteps(name, prepared.config, required);
    const configChanged = record.modelFingerprint !== modelFingerprint(modelDir) || record.configJson !== overrides.configJson || Boolean(overrides.files);
    const replaced = new Map<string, ModelVersion>();
    const loads: Promise<void>[] = [];
    for (const v of selected) {
      const old = record.versions.get(v);
      if (old?.isReady && !configChanged && record.versionFingerprints.get(v) === versionFingerprint(modelDir, v)) {
        old.reason = '';
        continue;
      }
      const version = new ModelVersion(name, v, prepared.config, this.options.createStatistics?.(name, v));
      replaced.set(v, version);
      loads.push(
        version.load({ modelName: name, version: v, modelDir, backend: prepared.backend, config: prepared.config, strictModelConfig: this.options.strictModelConfig, restartPolicy: this.options.restartPolicy ?? DEFAULT_RESTART_POLICY, responseCache: this.options.responseCache, logger, resolveModel: this.resolveModel, onUnavailable: () => this.refreshDependents(name) }),
      );
    }
    await Promise.all(loads);

    const retired: ModelVersion[] = [];
    const failures: string[] = [];
    for (const [v, version] of replaced) {
      const old = record.versions.get(v);
      if (version.isReady || !old?.isReady) {
        if (old) retired.push(old);
        record.versions.set(v, version);
        record.versionFingerprints.set(v, versionFingerprint(modelDir, v));
      } else {
        old.reason = `reload failed, still serving the previous load: ${version.reason}`;
      }
      if (!version.isReady) failures.push(`version ${v}: ${version.reason}`);
    }
    for (const [v, version] of record.versions) {
      if (selected.includes(v)) continue;
      record.versions.delete(v);
      record.versionFingerprints.delete(v);
      retired.push(version);
    }
    record.error = undefined;
    record.modelFingerprint = overrides.files ? undefined : modelFingerprint(modelDir);
    record.treeFingerprint = overrides.files ? undefined : treeFingerprint(modelDir);
    record.configJson = overrides.configJson;
    if (overrides.files) {
      if (record.overrideDir && record.overrideDir !== modelDir) rmSync(dirname(record.overrideDir), { recursive: true, force: true });
      record.overrideDir = modelDir;
    } else if (record.overrideDir) {
      rmSync(dirname(record.overrideDir), { recursive: true, force: true });
      record.overrideDir = undefined;
    }
    if ([...record.versions.values()].some((v) => v.isReady)) record.required = true;
    await Promise.all(retired.map((version) => version.unload()));
    if (failures.length > 0) throw new InferenceError('INVALID_ARG', `failed to load '${name}': ${failures.join('; ')}`);
  }

  private async unloadRecord(record: ModelRecord): Promise<void> {
    record.required = false;
    await Promise.all([...record.versions.values()].map((version) => version.unload()));
    if (record.overrideDir) {
      rmSync(dirname(record.overrideDir), { recursive: true, force: true });
      record.overrideDir = undefined;
    }
  }
}
