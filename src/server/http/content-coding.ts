/**
 * `Content-Encoding` of request bodies and `Accept-Encoding` negotiation for
 * responses: gzip and deflate, as Triton accepts them. zlib runs on libuv's thread
 * pool, so a large body never stalls the sockets while it is inflated or deflated.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { InferenceError } from '../../core/index.js';

export type ContentCoding = 'identity' | 'gzip' | 'deflate';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

/** The coding a request's `Content-Encoding` header names; anything else is refused. */
export function requestCoding(header: string): ContentCoding {
  const coding = header.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'gzip' || coding === 'deflate') return coding;
  throw new InferenceError('INVALID_ARG', `unsupported Content-Encoding '${header}': send the body as gzip, deflate or identity`);
}

/**
 * Inflates a request body. `maxSize` bounds the inflated size, so that a small
 * compressed body cannot expand past `--http-max-input-size`.
 */
export async function decodeBody(coding: ContentCoding, body: Uint8Array, maxSize: number): Promise<Uint8Array> {
  if (coding === 'identity') return body;
  try {
    return await (coding === 'gzip' ? gunzip : inflate)(body, { maxOutputLength: maxSize });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InferenceError(
        'INVALID_ARG',
        `request body inflates to more than the maximum of ${maxSize} bytes (--http-max-input-size)`,
      );
    }
    throw new InferenceError('INVALID_ARG', `failed to decompress the ${coding} request body: ${(err as Error).message}`);
  }
}

/**
 * The coding for a response from the request's `Accept-Encoding`, as Triton picks it:
 * the listed identity, gzip or deflate with the highest q-value, identity by default.
 */
export function responseCoding(acceptEncoding: string): ContentCoding {
  let chosen: ContentCoding = 'identity';
  let weight = 0;
  for (const entry of acceptEncoding.split(',')) {
    const [name, ...params] = entry.split(';').map((part) => part.trim());
    const coding = name.toLowerCase();
    if (coding !== 'identity' && coding !== 'gzip' && coding !== 'deflate') continue;
    let q = 1;
    const qParam = params.find((p) => p.startsWith('q='));
    if (qParam) {
      q = Number(qParam.slice(2));
      if (Number.isNaN(q)) continue;
    }
    if (q > weight) {
      chosen = coding;
      weight = q;
    }
  }
  return chosen;
}

export async function encodeBody(coding: ContentCoding, body: Uint8Array): Promise<Uint8Array> {
  if (coding === 'identity') return body;
  return (coding === 'gzip' ? gzip : deflate)(body);
}
