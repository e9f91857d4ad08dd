import { pino, type Logger } from 'pino';

export type { Logger };

/** The server's logger; `--log-verbose N` > 0 turns on debug output. */
export function createLogger(verbose = 0, destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino({ base: undefined, level: verbose > 0 ? 'debug' : 'info' }, destination);
}

/** A logger that drops everything, for embedding the server in tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
