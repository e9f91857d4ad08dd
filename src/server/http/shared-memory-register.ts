/** The body of `POST /v2/systemsharedmemory/region/{r}/register`, checked as Triton checks it. */
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
