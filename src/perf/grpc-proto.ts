/**
 * The client side of inference.GRPCInferenceService, generated at run time from
 * the project's proto/ with @grpc/proto-loader, and the options that read its
 * messages with snake_case names and int64 as numbers (as the JSON endpoints
 * give them, so that one parser serves both protocols).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { InferenceError } from '../core/index.js';

/** proto/ sits two levels above both src/perf/ and dist/perf/. */
const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));
const SERVICE = 'inference.GRPCInferenceService';

export type MethodName =
  | 'ServerMetadata'
  | 'ModelMetadata'
  | 'ModelReady'
  | 'ModelConfig'
  | 'ModelStatistics'
  | 'RepositoryModelLoad'
  | 'ModelInfer'
  | 'ModelStreamInfer'
  | 'SystemSharedMemoryRegister'
  | 'SystemSharedMemoryUnregister';

/** No message limits: the server enforces its own, and a benchmark may send big tensors. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};

let service: protoLoader.ServiceDefinition | undefined;

export function inferenceMethod(name: MethodName): protoLoader.MethodDefinition<object, object> {
  if (!service) {
    if (!existsSync(PROTO_DIR)) throw new InferenceError('INTERNAL', `gRPC protocol files not found at ${PROTO_DIR}`);
    const definition = protoLoader.loadSync('grpc_service.proto', {
      includeDirs: [PROTO_DIR],
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    service = definition[SERVICE] as protoLoader.ServiceDefinition;
  }
  return service[name] as protoLoader.MethodDefinition<object, object>;
}

/** `code NAME: details`, as grpc-js reports a failed call. */
export function grpcErrorText(err: grpc.ServiceError): string {
  const name = grpc.status[err.code] ?? String(err.code);
  return `gRPC ${name}: ${err.details || err.message}`;
}
