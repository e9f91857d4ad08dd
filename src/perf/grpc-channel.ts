/**
 * gRPC channels for the load loops. Messages cross grpc-js as bytes encoded
 * once before the load: unary calls share the worker's one HTTP/2 connection
 * (the success of a unary call is its OK status, so its answer is not even
 * decoded); with --streaming each slot owns a ModelStreamInfer stream, whose
 * answers carry their errors inside and are decoded to read them.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { InferenceError } from '../core/index.js';
import type { Endpoint } from './endpoint.js';
import { CHANNEL_OPTIONS, grpcErrorText, inferenceMethod } from './grpc-proto.js';
import type { ChannelFactory, InferChannel, RequestOutcome } from './infer-channel.js';

const identity = (bytes: Buffer) => bytes;

class GrpcUnaryChannel implements InferChannel {
  private closed = false;

  constructor(
    private readonly client: grpc.Client,
    private readonly path: string,
    private readonly requests: readonly Buffer[],
  ) {}

  send(index: number, done: (outcome: RequestOutcome) => void): void {
    if (this.closed) return queueMicrotask(() => done({ error: 'the load generator closed the channel', sendUs: 0, recvUs: 0 }));
    const before = performance.now();
    let sendUs = 0;
    this.client.makeUnaryRequest(this.path, identity, identity, this.requests[index], (err: grpc.ServiceError | null) =>
      done({ error: err ? grpcErrorText(err) : undefined, sendUs, recvUs: 0 }),
    );
    sendUs = (performance.now() - before) * 1000;
  }

  close(): void {
    this.closed = true;
  }
}

class GrpcStreamChannel implements InferChannel {
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private pending: { done: (outcome: RequestOutcome) => void; sendUs: number } | undefined;
  private closed = false;
  private readonly method = inferenceMethod('ModelStreamInfer');

  constructor(
    private readonly client: grpc.Client,
    private readonly requests: readonly Buffer[],
  ) {}

  send(index: number, done: (outcome: RequestOutcome) => void): void {
    if (this.closed) return queueMicrotask(() => done({ error: 'the load generator closed the stream', sendUs: 0, recvUs: 0 }));
    if (this.pending) throw new InferenceError('INTERNAL', 'GrpcStreamChannel.send while a request is in flight');
    const call = this.call ?? this.open();
    const before = performance.now();
    this.pending = { done, sendUs: 0 };
    call.write(this.requests[index]);
    this.pending.sendUs = (performance.now() - before) * 1000;
  }

  close(): void {
    this.closed = true;
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }

  private open(): grpc.ClientDuplexStream<Buffer, Buffer> {
    const call = this.client.makeBidiStreamRequest(this.method.path, identity, identity);
    call.on('data', (bytes: Buffer) => {
      if (call !== this.call || !this.pending) return;
      const { done, sendUs } = this.pending;
      this.pending = undefined;
      let error: string | undefined;
      try {
        const answer = this.method.responseDeserialize(bytes) as { error_message?: string };
        if (answer.error_message) error = `gRPC stream: ${answer.error_message}`;
      } catch (err) {
        error = `gRPC stream: an answer that does not decode (${(err as Error).message})`;
      }
      done({ error, sendUs, recvUs: 0 });
    });
    call.on('error', (err: grpc.ServiceError) => this.fail(call, grpcErrorText(err)));
    call.on('end', () => this.fail(call, 'gRPC stream: the server ended the stream before answering'));
    this.call = call;
    return call;
  }

  /** Fails the request in flight and forgets the stream, so that the next send opens a new one. */
  private fail(call: grpc.ClientDuplexStream<Buffer, Buffer>, reason: string): void {
    if (call !== this.call) return;
    this.call = undefined;
    const pending = this.pending;
    this.pending = undefined;
    pending?.done({ error: reason, sendUs: pending.sendUs, recvUs: 0 });
  }
}

export function grpcChannelFactory(endpoint: Endpoint, requests: readonly Buffer[], streaming: boolean): ChannelFactory {
  const client = new grpc.Client(endpoint.authority, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const unaryPath = inferenceMethod('ModelInfer').path;
  return {
    open: () => (streaming ? new GrpcStreamChannel(client, requests) : new GrpcUnaryChannel(client, unaryPath, requests)),
    close: () => client.close(),
  };
}
