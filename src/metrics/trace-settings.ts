import { InferenceError } from '../core/index.js';

/** Nereid traces timestamps; Triton's TENSORS level is refused rather than ignored. */
export type TraceLevel = 'OFF' | 'TIMESTAMPS';

/** Triton's trace settings, global or for one model. */
export interface TraceSettings {
  level: TraceLevel;
  /** Every `rate`-th request is traced; 0 traces none. */
  rate: number;
  /** Traces still to collect; -1 for no limit. */
  count: number;
  /** Write the traces to `<file>.<n>` every this many; 0 writes them all to `<file>` at shutdown. */
  logFrequency: number;
  /** Where traces go; tracing stays off without one. */
  file: string;
}

/** Triton's defaults. */
export const DEFAULT_TRACE_SETTINGS: Readonly<TraceSettings> = { level: 'OFF', rate: 1000, count: -1, logFrequency: 0, file: '' };

/** A change: a value sets a setting, null clears it (a model's setting then follows the global one again). */
export type TraceSettingsUpdate = { -readonly [K in keyof TraceSettings]?: TraceSettings[K] | null };

/** The trace extension's JSON (`GET /v2/trace/setting`): numbers as strings, as Triton writes them. */
export interface TraceSettingsJson {
  trace_level: string[];
  trace_rate: string;
  trace_count: string;
  log_frequency: string;
  trace_file: string;
  trace_mode: 'triton';
}

export function traceSettingsJson(settings: TraceSettings): TraceSettingsJson {
  return {
    trace_level: [settings.level],
    trace_rate: String(settings.rate),
    trace_count: String(settings.count),
    log_frequency: String(settings.logFrequency),
    trace_file: settings.file,
    trace_mode: 'triton',
  };
}

const UINT32_MAX = 4294967295;
const INT32_MAX = 2147483647;

/** Triton takes these as strings; a JSON number is accepted too. */
function integerSetting(key: string, value: unknown, min: number, max: number): number {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^-?\d+$/.test(text.trim())) {
    throw new InferenceError('INVALID_ARG', `Unable to parse '${key}', got: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  const n = Number(text);
  if (n < min || n > max) throw new InferenceError('INVALID_ARG', `Unable to parse '${key}', value is out of range [ ${min}, ${max} ], got: ${text}`);
  return n;
}

function levelSetting(value: unknown): TraceLevel {
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string')) {
    throw new InferenceError('INVALID_ARG', `'trace_level' must be a list of levels such as ["TIMESTAMPS"] or ["OFF"], got: ${JSON.stringify(value)}`);
  }
  if (value.includes('OFF')) {
    if (value.length > 1) throw new InferenceError('INVALID_ARG', "Expect only one trace level 'OFF' is specified");
    return 'OFF';
  }
  for (const level of value as string[]) {
    if (level === 'TENSORS') throw new InferenceError('UNSUPPORTED', "trace level 'TENSORS' is not supported: Nereid traces TIMESTAMPS only");
    if (level !== 'TIMESTAMPS') throw new InferenceError('INVALID_ARG', `unknown trace level '${level}' (expected OFF or TIMESTAMPS)`);
  }
  return 'TIMESTAMPS';
}

/**
 * A trace-setting request's body (HTTP JSON, or the gRPC map brought to the same
 * shape) as an update. As in Triton, the trace file cannot be changed over the
 * network: a client could otherwise make the server write wherever it may.
 */
export function parseTraceSettingsUpdate(body: Record<string, unknown>): TraceSettingsUpdate {
  const update: TraceSettingsUpdate = {};
  for (const [key, value] of Object.entries(body)) {
    switch (key) {
      case 'trace_file':
        throw new InferenceError('UNSUPPORTED', 'trace file location can not be updated through network protocol');
      case 'trace_level':
        update.level = value === null ? null : levelSetting(value);
        break;
      case 'trace_rate':
        update.rate = value === null ? null : integerSetting(key, value, 0, UINT32_MAX);
        break;
      case 'trace_count':
        update.count = value === null ? null : integerSetting(key, value, -1, INT32_MAX);
        break;
      case 'log_frequency':
        update.logFrequency = value === null ? null : integerSetting(key, value, 0, UINT32_MAX);
        break;
      default:
        throw new InferenceError('INVALID_ARG', `unknown trace setting '${key}' (known: trace_level, trace_rate, trace_count, log_frequency, trace_file)`);
    }
  }
  return update;
}

/**
 * `--trace-config` entries as Triton writes them: `level=TIMESTAMPS`, `rate=N`,
 * `count=N`, `mode=triton`, `triton,file=PATH`, `triton,log-frequency=N`.
 */
export function traceSettingsFromConfig(entries: readonly string[]): Partial<TraceSettings> {
  const settings: Partial<TraceSettings> = {};
  const number = (entry: string, text: string, min: number) => {
    if (!/^-?\d+$/.test(text) || Number(text) < min) throw new Error(`--trace-config ${entry}: expected an integer >= ${min}`);
    return Number(text);
  };
  for (const entry of entries) {
    const match = /^(?:(triton|opentelemetry),)?([a-z-]+)=(.*)$/.exec(entry);
    if (!match) throw new Error(`--trace-config expects [<mode>,]<setting>=<value>, got '${entry}'`);
    const [, mode, setting, value] = match;
    if (mode === 'opentelemetry' || (setting === 'mode' && value !== 'triton')) {
      throw new Error(`--trace-config ${entry}: only the 'triton' trace mode (JSON trace files) is supported; OpenTelemetry export is not`);
    }
    switch (setting) {
      case 'mode':
        break;
      case 'level':
        if (value !== 'OFF' && value !== 'TIMESTAMPS') throw new Error(`--trace-config ${entry}: the level must be OFF or TIMESTAMPS`);
        settings.level = value;
        break;
      case 'rate':
        settings.rate = number(entry, value, 0);
        break;
      case 'count':
        settings.count = number(entry, value, -1);
        break;
      case 'file':
        settings.file = value;
        break;
      case 'log-frequency':
        settings.logFrequency = number(entry, value, 0);
        break;
      default:
        throw new Error(`--trace-config: unknown setting '${setting}' (known: level, rate, count, mode, triton,file, triton,log-frequency)`);
    }
  }
  return settings;
}
