/**
 * Triton's header forwarding (`--http-header-forward-pattern`, `--grpc-header-forward-pattern`):
 * request headers whose name matches the pattern reach the model as string request
 * parameters, named as the header (in lower case, as both HTTP stacks give names).
 */
import type { InferenceRequest } from '../core/index.js';

/**
 * Parameters the server itself reads (scheduling, sequences) or reserves: a header never
 * sets them, so that forwarding cannot change how a request is scheduled.
 */
const RESERVED = new Set(['sequence_id', 'priority', 'timeout', 'sequence_start', 'sequence_end', 'headers']);

/**
 * Triton matches case-insensitively (it prefixes the pattern with `(?i)`); a pattern that
 * starts with `(?-i)` turns that off, as in Triton. JavaScript has no inline flags, so the
 * prefix becomes the RegExp's flags. Throws with the reason when the pattern is invalid.
 */
export function compileHeaderForwardPattern(pattern: string, flag: string): RegExp {
  const caseSensitive = pattern.startsWith('(?-i)');
  const source = caseSensitive ? pattern.slice('(?-i)'.length) : pattern;
  if (source === '') throw new Error(`--${flag}: the pattern is empty`);
  try {
    return new RegExp(source, caseSensitive ? '' : 'i');
  } catch (err) {
    throw new Error(`--${flag}: invalid regular expression '${pattern}': ${(err as Error).message}`);
  }
}

/** Whether a header is forwarded: its name matches somewhere (as RE2::PartialMatch) and is not reserved. */
export function forwardsHeader(pattern: RegExp, name: string): boolean {
  return pattern.test(name) && !RESERVED.has(name) && !name.startsWith('triton_');
}

/**
 * Adds forwarded headers to the request's parameters. A forwarded header replaces a
 * parameter of the same name from the request body: the operator chose to trust the
 * header (set by a gateway, say), and a client must not override it from the body.
 */
export function addForwardedHeaders(request: InferenceRequest, headers: ReadonlyArray<readonly [string, string]>): void {
  if (headers.length === 0) return;
  const parameters = (request.parameters ??= {});
  for (const [name, value] of headers) parameters[name] = value;
}
