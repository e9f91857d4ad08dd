import type uWS from 'uWebSockets.js';
import { InferenceError } from '../../core/index.js';

/**
 * Collects a request body into one fresh buffer (uWebSockets.js reuses its chunks
 * once the callback returns). Refuses a body larger than `maxSize` as soon as the
 * Content-Length header or the bytes received show it.
 */
export function readBody(
  res: uWS.HttpResponse,
  req: uWS.HttpRequest,
  maxSize: number,
  done: (err: InferenceError | undefined, body?: Uint8Array) => void,
): void {
  const tooLarge = (size: string) =>
    new InferenceError('INVALID_ARG', `request body of ${size} bytes exceeds the maximum of ${maxSize} bytes (--http-max-input-size)`);
  const declared = Number(req.getHeader('content-length') || NaN);
  if (declared > maxSize) {
    done(tooLarge(String(declared)));
    return;
  }
  let body = new Uint8Array(Number.isFinite(declared) ? declared : 1024);
  let length = 0;
  let failed = false;
  res.onData((chunk, isLast) => {
    if (failed) return;
    const bytes = new Uint8Array(chunk);
    if (length + bytes.length > maxSize) {
      failed = true;
      done(tooLarge(`more than ${maxSize}`));
      return;
    }
    if (length + bytes.length > body.length) {
      const grown = new Uint8Array(Math.max(body.length * 2, length + bytes.length));
      grown.set(body.subarray(0, length));
      body = grown;
    }
    body.set(bytes, length);
    length += bytes.length;
    if (isLast) done(undefined, length === body.length ? body : body.subarray(0, length));
  });
}
