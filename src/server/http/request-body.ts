import type uWS from 'uWebSockets.js';
import { InferenceError } from '../../core/index.js';

/**
 * Collects a request body into one fresh buffer (uWebSockets.js reuses its chunks
 * once the callback returns). Refuses a body larger than `maxSize`, as soon as the
 * Content-Length header or the bytes received show it, but only once the client has
 * sent all of it: answering while it still sends would make its TCP stack see a reset
 * instead of the answer. What follows the limit is read and dropped.
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
  let refusal = declared > maxSize ? tooLarge(String(declared)) : undefined;
  let body = new Uint8Array(Number.isFinite(declared) && !refusal ? declared : 1024);
  let length = 0;
  res.onData((chunk, isLast) => {
    if (!refusal) {
      const bytes = new Uint8Array(chunk);
      if (length + bytes.length > maxSize) {
        refusal = tooLarge(`more than ${maxSize}`);
        body = new Uint8Array(0);
      } else {
        if (length + bytes.length > body.length) {
          const grown = new Uint8Array(Math.max(body.length * 2, length + bytes.length));
          grown.set(body.subarray(0, length));
          body = grown;
        }
        body.set(bytes, length);
        length += bytes.length;
      }
    }
    if (!isLast) return;
    if (refusal) done(refusal);
    else done(undefined, length === body.length ? body : body.subarray(0, length));
  });
}
