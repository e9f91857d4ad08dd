/** The server address of `-u`: `host:port`, optionally with an `http://` scheme as some scripts write it. */
import { InferenceError } from '../core/index.js';
import type { PerfProtocol } from './perf-options.js';

export interface Endpoint {
  host: string;
  port: number;
  /** `host:port` as given, for messages and the Host header. */
  authority: string;
}

export function parseEndpoint(url: string, protocol: PerfProtocol): Endpoint {
  let rest = url;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name === 'https' || name === 'grpcs') throw new InferenceError('UNSUPPORTED', `-u ${url}: TLS is not supported by nereid perf yet`);
    if (name !== 'http' && name !== 'grpc') throw new InferenceError('INVALID_ARG', `-u ${url}: unknown scheme '${name}'`);
    rest = url.slice(scheme[0].length);
  }
  rest = rest.replace(/\/+$/, '');
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d+)$/.exec(rest);
  if (!match) throw new InferenceError('INVALID_ARG', `-u ${url}: expected HOST:PORT (for example localhost:${protocol === 'grpc' ? 8001 : 8000})`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new InferenceError('INVALID_ARG', `-u ${url}: port ${port} is out of range`);
  const bracketed = match[1].startsWith('[');
  return { host: bracketed ? match[1].slice(1, -1) : match[1], port, authority: rest };
}
