/**
 * The messages of proto/grpc_service.proto, loaded once with protobufjs, and the
 * shapes this frontend reads them in. Field names stay snake_case (keepCase), as
 * in the .proto and in Triton's JSON.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { InferenceError, type PackedBytes } from '../../core/index.js';

/** protobufjs decodes 64-bit fields as Long objects (the `long` package is installed) and encodes numbers too. */
export type Int64 = number | protobuf.Long;

export interface InferParameterMessage {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: Int64;
  string_param?: string;
  double_param?: number;
  uint64_param?: Int64;
}

export type ParameterMap = Record<string, InferParameterMessage>;

export interface InferTensorContentsMessage {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: Int64[];
  uint_contents: number[];
  uint64_contents: Int64[];
  fp32_contents: number[];
  fp64_contents: number[];
  /** Not decoded by protobufjs: parseModelInferRequest reads it from the wire (see bytes-contents.ts). */
  bytes_contents: PackedBytes;
}

export interface InferInputTensorMessage {
  name: string;
  datatype: string;
  shape: Int64[];
  parameters: ParameterMap;
  contents?: InferTensorContentsMessage | null;
}

export interface InferRequestedOutputTensorMessage {
  name: string;
  parameters: ParameterMap;
}

export interface ModelInferRequestMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters: ParameterMap;
  inputs: InferInputTensorMessage[];
  outputs: InferRequestedOutputTensorMessage[];
  raw_input_contents: Uint8Array[];
}

let root: protobuf.Root | undefined;

function loadProtocol(): protobuf.Root {
  // Three levels below the package root both as src/server/grpc/*.ts and as dist/server/grpc/*.js.
  const file = fileURLToPath(new URL('../../../proto/grpc_service.proto', import.meta.url));
  return new protobuf.Root().loadSync(file, { keepCase: true });
}

/** The parsed proto/grpc_service.proto (with model_config.proto), loaded on first use. */
export function protocolRoot(): protobuf.Root {
  if (!root) {
    root = loadProtocol();
    root.resolveAll();
  }
  return root;
}

let requestWithoutBytesContents: protobuf.Type | undefined;

/**
 * ModelInferRequest as decoded for inference: InferTensorContents without its
 * bytes_contents field, which protobufjs then skips as unknown rather than making one
 * Buffer per element (bytes-contents.ts reads it). A root of its own, so that every
 * other use of the messages keeps the field.
 */
export function modelInferRequestWithoutBytesContents(): protobuf.Type {
  if (!requestWithoutBytesContents) {
    const lean = loadProtocol();
    const contents = lean.lookupType('inference.InferTensorContents');
    contents.remove(contents.fields['bytes_contents']);
    lean.resolveAll();
    requestWithoutBytesContents = lean.lookupType('inference.ModelInferRequest');
  }
  return requestWithoutBytesContents;
}

const types = new Map<string, protobuf.Type>();

/** A message type of package `inference`, by its name (`ModelInferRequest`). */
export function messageType(name: string): protobuf.Type {
  let type = types.get(name);
  if (!type) {
    type = protocolRoot().lookupType(`inference.${name}`);
    types.set(name, type);
  }
  return type;
}

/** The service as the .proto declares it: the one list of RPCs the frontend registers. */
export function inferenceService(): protobuf.Service {
  return protocolRoot().lookupService('inference.GRPCInferenceService');
}

/** A plain object (snake_case fields) as protobuf wire bytes. */
export function encodeMessage(typeName: string, value: object): Buffer {
  return messageType(typeName).encode(value).finish() as Buffer;
}

/** Wire bytes as a message of `typeName` (or of `type`, a variant of it); bytes that do not parse are the client's error (INVALID_ARG). */
export function decodeMessage<T>(typeName: string, bytes: Uint8Array, type: protobuf.Type = messageType(typeName)): T {
  try {
    return type.decode(bytes) as unknown as T;
  } catch (err) {
    throw new InferenceError('INVALID_ARG', `the request is not a valid ${typeName} message: ${(err as Error).message}`);
  }
}

export function int64ToNumber(value: Int64): number {
  if (typeof value === 'number') return value;
  return protobuf.util.LongBits.from(value).toNumber(value.unsigned);
}

export function int64ToBigInt(value: Int64, unsigned: boolean): bigint {
  if (typeof value === 'number') return BigInt(value);
  const bits = protobuf.util.LongBits.from(value);
  const combined = (BigInt(bits.hi >>> 0) << 32n) | BigInt(bits.lo >>> 0);
  return unsigned ? combined : BigInt.asIntN(64, combined);
}
