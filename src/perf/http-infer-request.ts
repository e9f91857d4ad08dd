/**
 * Each planned request as the complete bytes of one HTTP/1.1 POST …/infer (a
 * KServe v2 JSON body, with raw tensor bytes after it when binary), built once so
 * that sending costs one socket write.
 */
import type { Parameters } from '../core/index.js';
import type { Endpoint } from './endpoint.js';
import { modelPath } from './http-control.js';
import type { TensorFormat } from './perf-options.js';
import { rawTensorBytes } from './raw-tensor.js';
import type { PlannedRequest } from './request-plan.js';
import type { SharedMemoryPlace } from './shared-memory.js';

export interface HttpRequestTarget {
  endpoint: Endpoint;
  model: string;
  version: string;
  /** Extra `Name: value` header lines. */
  headers: readonly string[];
  /** Request-level parameters; none when empty. */
  parameters: Parameters;
}

/** Where a request's tensors sit in shared memory (--shared-memory system). */
export interface SharedMemoryPlaces {
  inputs: readonly SharedMemoryPlace[];
  outputs: ReadonlyArray<{ name: string } & SharedMemoryPlace>;
}

/** How the tensors travel: in shared memory, or in the body as JSON values or raw bytes. */
export type TensorTransport =
  | { kind: 'shared-memory'; places: SharedMemoryPlaces }
  | { kind: 'body'; inputs: TensorFormat; outputs: TensorFormat; outputNames: readonly string[] };

const shmParameters = (place: SharedMemoryPlace) => ({
  shared_memory_region: place.region,
  shared_memory_byte_size: place.byteSize,
  shared_memory_offset: place.offset,
});

/** The JSON part of the body and the raw tensor bytes that follow it (binary inputs). */
function inferRequestBody(request: PlannedRequest, transport: TensorTransport, parameters: Parameters): { json: string; binary: Buffer[] } {
  const requestLevel = Object.keys(parameters).length > 0 ? { parameters } : {};
  if (transport.kind === 'shared-memory') {
    const { places } = transport;
    return {
      json: JSON.stringify({
        ...requestLevel,
        inputs: request.map((t, i) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: shmParameters(places.inputs[i]) })),
        outputs: places.outputs.map((o) => ({ name: o.name, parameters: shmParameters(o) })),
      }),
      binary: [],
    };
  }
  const binary = transport.inputs === 'binary' ? request.map(rawTensorBytes) : [];
  const inputs = request.map((t, i) =>
    transport.inputs === 'binary'
      ? { name: t.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: binary[i].length } }
      : { name: t.name, datatype: t.datatype, shape: t.shape, data: t.values },
  );
  const outputs = transport.outputs === 'binary' ? { outputs: transport.outputNames.map((name) => ({ name, parameters: { binary_data: true } })) } : {};
  return { json: JSON.stringify({ ...requestLevel, inputs, ...outputs }), binary };
}

export function encodeHttpInferRequest(request: PlannedRequest, target: HttpRequestTarget, transport: TensorTransport): Buffer {
  const { json, binary } = inferRequestBody(request, transport, target.parameters);
  const header = Buffer.from(json);
  const body = binary.length > 0 ? Buffer.concat([header, ...binary]) : header;
  const head =
    `POST ${modelPath(target.model, target.version)}/infer HTTP/1.1\r\n` +
    `Host: ${target.endpoint.authority}\r\n` +
    (binary.length > 0 ? `Content-Type: application/octet-stream\r\nInference-Header-Content-Length: ${header.length}\r\n` : 'Content-Type: application/json\r\n') +
    `Content-Length: ${body.length}\r\n` +
    target.headers.map((h) => `${h}\r\n`).join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
