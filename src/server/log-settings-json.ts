/** The logging extension's JSON (`GET/POST /v2/logging`, gRPC `LogSettings`), with Triton's keys. */
import { InferenceError, LOG_FORMATS, type LogFormat, type LogSettings } from '../core/index.js';

export interface LogSettingsJson {
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  log_verbose_level: number;
  log_format: LogFormat;
}

export function logSettingsJson(settings: LogSettings): LogSettingsJson {
  return {
    log_file: settings.file,
    log_info: settings.info,
    log_warning: settings.warning,
    log_error: settings.error,
    log_verbose_level: settings.verboseLevel,
    log_format: settings.format,
  };
}

const SWITCHES = { log_info: 'info', log_warning: 'warning', log_error: 'error' } as const;

/**
 * A logging request's body as settings to change; a null value leaves its setting
 * as it is, as in Triton. The log file cannot be changed over the network (Triton
 * refuses it too): a client could otherwise make the server write wherever it may.
 */
export function parseLogSettingsUpdate(body: Record<string, unknown>): Partial<LogSettings> {
  const changes: Partial<LogSettings> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === null) continue;
    if (key === 'log_file') throw new InferenceError('UNSUPPORTED', 'log file location can not be updated through network protocol');
    if (key in SWITCHES) {
      if (typeof value !== 'boolean') throw new InferenceError('INVALID_ARG', `'${key}' must be a boolean, got ${JSON.stringify(value)}`);
      changes[SWITCHES[key as keyof typeof SWITCHES]] = value;
    } else if (key === 'log_verbose_level') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new InferenceError('INVALID_ARG', `'log_verbose_level' must be a non-negative integer, got ${JSON.stringify(value)}`);
      }
      changes.verboseLevel = value;
    } else if (key === 'log_format') {
      if (!LOG_FORMATS.includes(value as LogFormat)) {
        throw new InferenceError('INVALID_ARG', `invalid argument for --log_format, got: ${typeof value === 'string' ? value : JSON.stringify(value)} (expected ${LOG_FORMATS.join(', ')})`);
      }
      changes.format = value as LogFormat;
    } else {
      throw new InferenceError('INVALID_ARG', `unknown log setting '${key}' (known: log_file, log_info, log_warning, log_error, log_verbose_level, log_format)`);
    }
  }
  return changes;
}
