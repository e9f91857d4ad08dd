import type { Logger } from 'pino';
import { LogControl } from './log-control.js';

export type { Logger };

/** The server's logger; `--log-verbose N` > 0 turns on debug output. Its settings change at run time through logControlOf(). */
export function createLogger(verbose = 0, destination: { write(text: string): unknown } = process.stdout): Logger {
  return new LogControl({ verboseLevel: verbose }, destination).logger;
}

/** A logger that drops everything (until the logging extension turns it on), for embedding the server in tests. */
export function silentLogger(): Logger {
  return new LogControl({ info: false, warning: false, error: false }).logger;
}
