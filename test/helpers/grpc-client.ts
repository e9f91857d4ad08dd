/** A real @grpc/grpc-js client for inference.GRPCInferenceService, generated at run time from the project's proto/. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../proto');

const packageDefinition = protoLoader.loadSync('grpc_service.proto', {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

type ServiceClientConstructor = new (target: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  inference: { GRPCInferenceService: ServiceClientConstructor };
};

/** Messages as proto-loader gives them (snake_case, int64 as numbers); the tests check them field by field. */
export type Message = any;

export interface CallOptions {
  /** Milliseconds from now. */
  deadlineMs?: number;
  /** Request metadata (headers) sent with the call. */
  metadata?: Record<string, string>;
}

export function metadataOf(entries: Record<string, string> = {}): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return metadata;
}

export class InferenceClient {
  readonly stub: grpc.Client & Record<string, any>;

  constructor(target: string, options: grpc.ChannelOptions = {}, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {
    this.stub = new loaded.inference.GRPCInferenceService(target, credentials, options) as grpc.Client & Record<string, any>;
  }

  /** One unary RPC; rejects with the grpc-js ServiceError (code, details). */
  call(method: string, request: Message = {}, options: CallOptions = {}): Promise<Message> {
    const callOptions: grpc.CallOptions = options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {};
    return new Promise((resolve, reject) => {
      this.stub[method](request, metadataOf(options.metadata), callOptions, (err: grpc.ServiceError | null, response: Message) =>
        err ? reject(err) : resolve(response),
      );
    });
  }

  /** Calls `method` expecting it to fail; resolves with the error. */
  async fail(method: string, request: Message = {}, options: CallOptions = {}): Promise<grpc.ServiceError> {
    try {
      await this.call(method, request, options);
    } catch (err) {
      return err as grpc.ServiceError;
    }
    throw new Error(`${method} succeeded where a failure was expected`);
  }

  stream(metadata?: Record<string, string>): grpc.ClientDuplexStream<Message, Message> {
    return metadata ? this.stub.ModelStreamInfer(metadataOf(metadata)) : this.stub.ModelStreamInfer();
  }

  close(): void {
    this.stub.close();
  }
}

/** A client that sends arbitrary bytes to a method, for requests no generated client would produce. */
export function rawCall(target: string, method: string, bytes: Buffer): Promise<Buffer> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      `/inference.GRPCInferenceService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      (err, response) => {
        client.close();
        if (err) reject(err);
        else resolve(response!);
      },
    );
  });
}

export { grpc };

/** Raw little-endian bytes of a typed array, as raw_input_contents carries them. */
export function rawBytes(values: Float32Array | Int32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

export function floatsOf(bytes: Buffer): number[] {
  const copy = new Uint8Array(bytes);
  return Array.from(new Float32Array(copy.buffer, 0, copy.byteLength / 4));
}

export function int32sOf(bytes: Buffer): number[] {
  const copy = new Uint8Array(bytes);
  return Array.from(new Int32Array(copy.buffer, 0, copy.byteLength / 4));
}

/** BYTES elements in raw form: each a 4-byte little-endian length and the bytes. */
export function packStrings(strings: readonly (string | Uint8Array)[]): Buffer {
  const parts = strings.map((s) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s)));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, offset);
    p.copy(out, offset + 4);
    offset += 4 + p.length;
  }
  return out;
}

export function unpackStrings(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = bytes.readUInt32LE(offset);
    out.push(bytes.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return out;
}

/**
 * Collects a ModelStreamInfer stream's answers by sequence, the part of each response id
 * before its first `_` (ids written as `<sequence>_<step>`), each answer as `valueOf` reads
 * it; `done` resolves with the stream's final status code and rejects on the first error.
 */
export function answersBySequence(stream: grpc.ClientDuplexStream<Message, Message>, valueOf: (response: Message) => number) {
  const received = new Map<string, number[]>();
  const done = new Promise<number>((resolve, reject) => {
    stream.on('data', (message: Message) => {
      if (message.error_message) return reject(new Error(message.error_message));
      const [sequence] = message.infer_response.id.split('_');
      received.set(sequence, [...(received.get(sequence) ?? []), valueOf(message.infer_response)]);
    });
    stream.on('status', (s: grpc.StatusObject) => resolve(s.code));
    stream.on('error', reject);
  });
  return { received, done };
}
