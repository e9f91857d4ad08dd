/**
 * The one error type of Nereid. Every failure that reaches a client is an
 * InferenceError whose code selects the HTTP status and gRPC code from the
 * table below, so the frontends never decide a status on their own.
 */

export type ErrorCode =
  | 'INVALID_ARG'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'UNSUPPORTED'
  | 'INTERNAL'
  | 'ALREADY_EXISTS'
  | 'DEADLINE_EXCEEDED'
  | 'RESOURCE_EXHAUSTED'
  | 'CANCELLED'
  | 'PERMISSION_DENIED';

export class InferenceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'InferenceError';
  }
}

/** gRPC status codes by number, as in grpc's status.proto. */
const GRPC = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** Triton's mapping: NOT_FOUND 404, UNAVAILABLE 503, UNSUPPORTED 501, INTERNAL 500, the rest 400. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, { http: number; grpc: number }>> = {
  INVALID_ARG: { http: 400, grpc: GRPC.INVALID_ARGUMENT },
  NOT_FOUND: { http: 404, grpc: GRPC.NOT_FOUND },
  UNAVAILABLE: { http: 503, grpc: GRPC.UNAVAILABLE },
  UNSUPPORTED: { http: 501, grpc: GRPC.UNIMPLEMENTED },
  INTERNAL: { http: 500, grpc: GRPC.INTERNAL },
  ALREADY_EXISTS: { http: 400, grpc: GRPC.ALREADY_EXISTS },
  DEADLINE_EXCEEDED: { http: 400, grpc: GRPC.DEADLINE_EXCEEDED },
  RESOURCE_EXHAUSTED: { http: 400, grpc: GRPC.RESOURCE_EXHAUSTED },
  CANCELLED: { http: 400, grpc: GRPC.CANCELLED },
  // A restricted API called without its header (--http-restricted-api, --grpc-restricted-protocol).
  PERMISSION_DENIED: { http: 403, grpc: GRPC.PERMISSION_DENIED },
};

/** Anything thrown becomes an InferenceError; unexpected errors are INTERNAL with their message kept. */
export function toInferenceError(err: unknown): InferenceError {
  if (err instanceof InferenceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InferenceError('INTERNAL', message);
}
