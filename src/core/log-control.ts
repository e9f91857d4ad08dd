import { closeSync, openSync, writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { formatLogLine, type LogFormat } from './log-line.js';

/**
 * Triton's logging controls (`--log-info`, `--log-warning`, `--log-error`,
 * `--log-verbose`, `--log-format`, `--log-file`), which the logging extension also
 * changes at run time.
 */
export interface LogSettings {
  /** Where lines go; empty for standard output. */
  file: string;
  info: boolean;
  warning: boolean;
  error: boolean;
  /** Above 0, debug lines; above 1, trace lines too. */
  verboseLevel: number;
  /** `json`, pino's structured lines, is Nereid's default; `default` and `ISO8601` are Triton's text lines. */
  format: LogFormat;
}

export const DEFAULT_LOG_SETTINGS: Readonly<LogSettings> = {
  file: '',
  info: true,
  warning: true,
  error: true,
  verboseLevel: 0,
  format: 'json',
};

/** pino's levels: trace 10, debug 20, info 30, warn 40, error 50, fatal 60. */
function threshold(settings: LogSettings): string {
  if (settings.verboseLevel >= 2) return 'trace';
  if (settings.verboseLevel >= 1) return 'debug';
  if (settings.info) return 'info';
  if (settings.warning) return 'warn';
  if (settings.error) return 'error';
  return 'silent';
}

const controls = new WeakMap<Logger, LogControl>();

/** The controls of a logger made by LogControl (createLogger, silentLogger); undefined for any other pino logger. */
export function logControlOf(logger: Logger): LogControl | undefined {
  return controls.get(logger);
}

/**
 * Owns one pino logger and applies the settings to it. pino keeps a single level
 * threshold, so the threshold is the lowest level enabled and a hook drops the
 * levels switched off above it (Triton enables info, warning and error separately).
 * The destination reformats lines for the text formats and follows `file`; log lines
 * are rare (load, unload, failures), so a line costs a synchronous write, which also
 * keeps every line when the process exits.
 */
export class LogControl {
  readonly logger: Logger;
  private current: LogSettings;
  private fd: number | undefined;

  constructor(
    settings: Partial<LogSettings> = {},
    private readonly standardOutput: { write(text: string): unknown } = process.stdout,
  ) {
    this.current = { ...DEFAULT_LOG_SETTINGS, ...settings };
    if (this.current.file) this.fd = LogControl.open(this.current.file);
    const control = this;
    this.logger = pino(
      {
        base: undefined,
        level: threshold(this.current),
        hooks: {
          logMethod(args, method, level) {
            if (control.allows(level)) method.apply(this, args);
          },
        },
      },
      { write: (line: string) => this.write(line) },
    );
    controls.set(this.logger, this);
  }

  get settings(): Readonly<LogSettings> {
    return { ...this.current };
  }

  /** Applies the given settings; a file that cannot be opened throws and changes nothing. */
  update(changes: Partial<LogSettings>): void {
    const next = { ...this.current, ...changes };
    if (next.file !== this.current.file) {
      const fd = next.file ? LogControl.open(next.file) : undefined;
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = fd;
    }
    this.current = next;
    this.logger.level = threshold(next);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private allows(level: number): boolean {
    if (level >= 50) return this.current.error;
    if (level >= 40) return this.current.warning;
    if (level >= 30) return this.current.info;
    return level >= 20 ? this.current.verboseLevel >= 1 : this.current.verboseLevel >= 2;
  }

  private write(line: string): void {
    const text = this.current.format === 'json' ? line : formatLogLine(line, this.current.format);
    if (this.fd !== undefined) writeSync(this.fd, text);
    else this.standardOutput.write(text);
  }

  private static open(file: string): number {
    try {
      return openSync(file, 'a');
    } catch (err) {
      throw new Error(`cannot open log file '${file}': ${(err as Error).message}`);
    }
  }
}
