import type { StatusObject } from '@grpc/grpc-js';
import { ERROR_STATUS, InferenceError, toInferenceError } from '../../core/index.js';

/** Any error as the gRPC status it answers with, through the one table in core/errors.ts. */
export function grpcStatusOf(err: unknown): Pick<StatusObject, 'code' | 'details'> {
  const error = toInferenceError(err);
  return { code: ERROR_STATUS[error.code].grpc, details: error.message };
}

/** An RPC whose capability lands in a later release: UNIMPLEMENTED, naming the RPC and what is missing. */
export function notImplemented(rpc: string, capability: string): InferenceError {
  return new InferenceError('UNSUPPORTED', `${rpc} is not implemented: Nereid does not support ${capability} yet`);
}
