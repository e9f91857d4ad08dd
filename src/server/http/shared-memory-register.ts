/** The bodies of `POST /v2/{system,cuda}sharedmemory/region/{r}/register`, checked as Triton checks them. */
import { InferenceError } from '../../core/index.js';

export interface RegisterRequest {
  key: string;
  offset: number;
  byteSize: number;
}

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

function size(body: Record<string, unknown>, field: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`Shared memory register request: '${field}' must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function parseRegisterRequest(body: Record<string, unknown>): RegisterRequest {
  if (body.key === undefined) throw invalid("Shared memory register request has no 'key' field");
  if (typeof body.key !== 'string' || body.key === '') throw invalid(`Shared memory register request: 'key' must be a non-empty string`);
  if (body.byte_size === undefined) throw invalid("Shared memory register request has no 'byte_size' field");
  return { key: body.key, offset: body.offset === undefined ? 0 : size(body, 'offset'), byteSize: size(body, 'byte_size') };
}

export interface CudaRegisterRequest {
  rawHandle: Uint8Array;
  deviceId: number;
  byteSize: number;
}

/** Standard base64 with its padding, as Triton's clients write a handle (base64.b64encode). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `{"raw_handle": {"b64": …}, "device_id": …, "byte_size": …}`; the handle's length is checked when it is registered. */
export function parseCudaRegisterRequest(body: Record<string, unknown>): CudaRegisterRequest {
  const handle = body.raw_handle;
  if (handle === undefined) throw invalid("CUDA shared memory register request has no 'raw_handle' field");
  const b64 = typeof handle === 'object' && handle !== null ? (handle as Record<string, unknown>).b64 : undefined;
  if (typeof b64 !== 'string') throw invalid(`CUDA shared memory register request: 'raw_handle' must be {"b64": "<base64 of the CUDA IPC handle>"}`);
  if (!BASE64.test(b64)) {
    throw invalid(`'raw_handle' must be a valid base64 encoded cudaIpcMemHandle_t: its 'b64' (${b64.length} characters) is not standard base64`);
  }
  if (body.device_id === undefined) throw invalid("CUDA shared memory register request has no 'device_id' field");
  if (body.byte_size === undefined) throw invalid("CUDA shared memory register request has no 'byte_size' field");
  return { rawHandle: Buffer.from(b64, 'base64'), deviceId: size(body, 'device_id'), byteSize: size(body, 'byte_size') };
}
