import type { Logger, RequestTrace } from '../core/index.js';
import { SampledTrace } from './sampled-trace.js';
import { TraceFile } from './trace-file.js';
import {
  traceSettingsJson,
  type TraceSettings,
  type TraceSettingsJson,
  type TraceSettingsUpdate,
} from './trace-settings.js';

/** A model's own settings, over the global ones, and the sampling state they need. */
interface ModelTraceSettings {
  overrides: Partial<TraceSettings>;
  /** Requests seen under the model's own rate. */
  sampled: number;
  /** Traces left under the model's own count. */
  remaining: number;
}

/**
 * The trace extension: global settings, per-model settings that override some of
 * them (the rest follow the global ones), sampling, and the trace files. A model with
 * its own settings samples on its own (its own `rate` counter, and its own `count`
 * when it sets one); the others share the global counters.
 */
export class TraceManager {
  /** Whether any setting can produce a trace: the one check an untraced request pays. */
  enabled = false;
  private global: TraceSettings;
  private globalSampled = 0;
  private globalRemaining: number;
  private readonly models = new Map<string, ModelTraceSettings>();
  private readonly files = new Map<string, TraceFile>();
  private nextId = 1;

  constructor(
    private readonly initial: Readonly<TraceSettings>,
    private readonly logger: Logger,
  ) {
    this.global = { ...initial };
    this.globalRemaining = initial.count;
    this.refresh();
  }

  /** A trace for this request, when its model's settings sample it. */
  sample(model: string, requestId: string | undefined, requestStartMs: number): RequestTrace | undefined {
    const own = this.models.get(model);
    const settings = own ? { ...this.global, ...own.overrides } : this.global;
    if (settings.level === 'OFF' || settings.rate === 0 || settings.file === '') return undefined;
    const ownCount = own?.overrides.count !== undefined;
    if ((ownCount ? own!.remaining : this.globalRemaining) === 0) return undefined;
    const sampled = own ? ++own.sampled : ++this.globalSampled;
    if (sampled % settings.rate !== 0) return undefined;
    if (ownCount) {
      if (own!.remaining > 0) own!.remaining--;
    } else if (this.globalRemaining > 0) {
      this.globalRemaining--;
    }
    if (ownCount ? own!.remaining === 0 : this.globalRemaining === 0) this.refresh();
    return new SampledTrace(this.nextId++, model, requestId, requestStartMs, this.file(settings.file), settings.logFrequency);
  }

  /** The settings in force for `model` (the global ones without a model), with the count of traces left. */
  settings(model?: string): TraceSettingsJson {
    const own = model === undefined ? undefined : this.models.get(model);
    const settings = own ? { ...this.global, ...own.overrides } : { ...this.global };
    settings.count = own?.overrides.count !== undefined ? own.remaining : this.globalRemaining;
    return traceSettingsJson(settings);
  }

  /**
   * Applies an update to `model`'s settings or, without a model, to the global ones.
   * Clearing (null) a model's setting makes it follow the global one again; clearing
   * a global setting restores its start-up value. Setting a count restarts it.
   */
  update(model: string | undefined, update: TraceSettingsUpdate): TraceSettingsJson {
    const keys = Object.keys(update) as Array<keyof TraceSettings>;
    if (model === undefined) {
      const next = { ...this.global };
      for (const key of keys) {
        const value = update[key];
        (next as Record<string, unknown>)[key] = value === null ? this.initial[key] : value;
      }
      if (keys.includes('count')) this.globalRemaining = next.count;
      this.global = next;
    } else {
      const own = this.models.get(model) ?? { overrides: {}, sampled: 0, remaining: -1 };
      for (const key of keys) {
        const value = update[key];
        if (value === null) delete own.overrides[key];
        else (own.overrides as Record<string, unknown>)[key] = value;
      }
      if (update.count !== undefined && update.count !== null) own.remaining = update.count;
      if (Object.keys(own.overrides).length > 0) this.models.set(model, own);
      else this.models.delete(model);
    }
    this.refresh();
    return this.settings(model);
  }

  /** Writes every trace collected and waits for the writes. */
  async close(): Promise<void> {
    this.enabled = false;
    await Promise.all([...this.files.values()].map((file) => file.close()));
  }

  private file(path: string): TraceFile {
    let file = this.files.get(path);
    if (!file) {
      file = new TraceFile(path, this.logger);
      this.files.set(path, file);
    }
    return file;
  }

  private refresh(): void {
    const active = (settings: TraceSettings, remaining: number) =>
      settings.level !== 'OFF' && settings.rate > 0 && settings.file !== '' && remaining !== 0;
    let enabled = active(this.global, this.globalRemaining);
    for (const own of this.models.values()) {
      const remaining = own.overrides.count !== undefined ? own.remaining : this.globalRemaining;
      enabled ||= active({ ...this.global, ...own.overrides }, remaining);
    }
    this.enabled = enabled;
  }
}
