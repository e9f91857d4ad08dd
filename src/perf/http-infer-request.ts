/**
 * Each planned request as the complete bytes of one HTTP/1.1 POST …/infer with
 * a KServe v2 JSON body, built once so that sending costs one socket write.
 */
import type { Endpoint } from './endpoint.js';
import { modelPath } from './http-control.js';
import type { PlannedRequest } from './request-plan.js';
import type { SharedMemoryPlace } from './shared-memory.js';

export interface HttpRequestTarget {
  endpoint: Endpoint;
  model: string;
  version: string;
  /** Extra `Name: value` header lines. */
  headers: readonly string[];
}

/** Where a request's tensors sit in shared memory (--shared-memory system). */
export interface SharedMemoryPlaces {
  inputs: readonly SharedMemoryPlace[];
  outputs: ReadonlyArray<{ name: string } & SharedMemoryPlace>;
}

const shmParameters = (place: SharedMemoryPlace) => ({
  shared_memory_region: place.region,
  shared_memory_byte_size: place.byteSize,
  shared_memory_offset: place.offset,
});

function inferRequestBody(request: PlannedRequest, shm: SharedMemoryPlaces | undefined): string {
  if (!shm) return JSON.stringify({ inputs: request.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.values })) });
  return JSON.stringify({
    inputs: request.map((t, i) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: shmParameters(shm.inputs[i]) })),
    outputs: shm.outputs.map((o) => ({ name: o.name, parameters: shmParameters(o) })),
  });
}

export function encodeHttpInferRequest(request: PlannedRequest, target: HttpRequestTarget, shm?: SharedMemoryPlaces): Buffer {
  const body = Buffer.from(inferRequestBody(request, shm));
  const head =
    `POST ${modelPath(target.model, target.version)}/infer HTTP/1.1\r\n` +
    `Host: ${target.endpoint.authority}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${body.length}\r\n` +
    target.headers.map((h) => `${h}\r\n`).join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
