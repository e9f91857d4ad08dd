/** A client for Triton's binary tensor data extension, written from the protocol as tritonclient.http speaks it. */

// BYTES elements are laid out as in gRPC raw contents.
export { packStrings, unpackStrings } from './grpc-client.js';

export interface BinaryAnswer {
  status: number;
  headers: Headers;
  /** The JSON part of the answer (the whole body when it has no binary part). */
  json: any;
  /** The bytes after the JSON header. */
  binary: Buffer;
  /** The binary data of each output that has `binary_data_size`, by name. */
  outputs: Map<string, Buffer>;
}

/** Splits a response body by `Inference-Header-Content-Length`. */
export function parseBinaryAnswer(status: number, headers: Headers, body: Buffer): BinaryAnswer {
  const headerLength = headers.get('inference-header-content-length');
  const jsonLength = headerLength === null ? body.length : Number(headerLength);
  const json = JSON.parse(body.subarray(0, jsonLength).toString('utf8'));
  const binary = body.subarray(jsonLength);
  const outputs = new Map<string, Buffer>();
  let offset = 0;
  for (const output of json.outputs ?? []) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    outputs.set(output.name, binary.subarray(offset, offset + size));
    offset += size;
  }
  return { status, headers, json, binary, outputs };
}

/**
 * POSTs a JSON header followed by `parts` (the binary inputs, in input order), with
 * `Inference-Header-Content-Length`; `headers` may add or override headers.
 */
export async function postBinary(
  url: string,
  header: unknown,
  parts: Uint8Array[],
  headers: Record<string, string> = {},
  transform: (body: Buffer) => Buffer = (body) => body,
): Promise<BinaryAnswer> {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const body = transform(Buffer.concat([json, ...parts]));
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length), ...headers },
    body: new Uint8Array(body),
  });
  return parseBinaryAnswer(res.status, res.headers, Buffer.from(await res.arrayBuffer()));
}

/** The raw little-endian bytes of a typed array. */
export function bytesOf(data: ArrayBufferView): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
