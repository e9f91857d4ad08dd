/**
 * Triton's two text formats for a log line, from the JSON line pino writes:
 * `default` is `I1128 12:34:56.789000 4242 nereid] message` (glog style, UTC) and
 * `ISO8601` is `2026-11-28T12:34:56Z I 4242 nereid] message`. Triton puts the C++
 * source file and line before `]`; Nereid puts its name there, so that tools splitting
 * Triton's lines at `] ` still find the message. Structured fields follow the message
 * as `key=value`.
 */

export type LogFormat = 'default' | 'ISO8601' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['default', 'ISO8601', 'json'];

/** pino's numeric levels as Triton's one-letter severities; verbose (debug, trace) lines are `I`, as Triton's. */
function severity(level: number): string {
  if (level >= 50) return 'E';
  if (level >= 40) return 'W';
  return 'I';
}

const two = (n: number) => String(n).padStart(2, '0');

/** Values that read unambiguously bare stay bare; anything else is JSON. */
function fieldValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string' && /^[^\s"=]+$/.test(value)) return value;
  return JSON.stringify(value);
}

/** One JSON line from pino as a line of `format` (with its newline). */
export function formatLogLine(jsonLine: string, format: Exclude<LogFormat, 'json'>): string {
  const { level, time, msg, ...fields } = JSON.parse(jsonLine) as { level: number; time: number; msg?: string } & Record<string, unknown>;
  const at = new Date(time);
  const pid = process.pid;
  const head =
    format === 'ISO8601'
      ? `${at.getUTCFullYear()}-${two(at.getUTCMonth() + 1)}-${two(at.getUTCDate())}T${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())}Z ${severity(level)} ${pid}`
      : `${severity(level)}${two(at.getUTCMonth() + 1)}${two(at.getUTCDate())} ${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())}.${String(at.getUTCMilliseconds() * 1000).padStart(6, '0')} ${pid}`;
  let text = `${head} nereid] ${msg ?? ''}`;
  for (const [key, value] of Object.entries(fields)) text += ` ${key}=${fieldValue(value)}`;
  return `${text}\n`;
}
