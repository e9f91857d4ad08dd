import type uWS from 'uWebSockets.js';
import { InferenceError } from '../../core/index.js';

/**
 * A percent-decoded path parameter (`what`: "model name", "version", …). Bad
 * percent-encoding (`%ZZ`, a cut-off UTF-8 sequence) is the client's error.
 */
export function pathParameter(req: uWS.HttpRequest, index: number, what: string): string {
  const raw = req.getParameter(index);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InferenceError('INVALID_ARG', `the ${what} in the request path is not valid percent-encoded UTF-8: '${raw.length > 100 ? `${raw.slice(0, 100)}…` : raw}'`);
  }
}
