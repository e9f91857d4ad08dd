/**
 * Each planned request as the complete bytes of one HTTP/1.1 POST …/infer with
 * a KServe v2 JSON body, built once so that sending costs one socket write.
 */
import type { Endpoint } from './endpoint.js';
import { modelPath } from './http-control.js';
import type { PlannedRequest } from './request-plan.js';

export interface HttpRequestTarget {
  endpoint: Endpoint;
  model: string;
  version: string;
  /** Extra `Name: value` header lines. */
  headers: readonly string[];
}

function inferRequestBody(request: PlannedRequest): string {
  return JSON.stringify({
    inputs: request.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.values })),
  });
}

export function encodeHttpInferRequest(request: PlannedRequest, target: HttpRequestTarget): Buffer {
  const body = Buffer.from(inferRequestBody(request));
  const head =
    `POST ${modelPath(target.model, target.version)}/infer HTTP/1.1\r\n` +
    `Host: ${target.endpoint.authority}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${body.length}\r\n` +
    target.headers.map((h) => `${h}\r\n`).join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
