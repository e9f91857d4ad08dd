/**
 * One ModelStreamInfer call: each request on the stream is an independent inference
 * whose answer (result or error_message) is written when it completes. A bad request
 * never ends the stream; the stream ends when the client half-closes and every
 * request has been answered, or when the client goes away (which drops its queued
 * requests).
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { Cancellation, InferenceError, toInferenceError, type Logger } from '../../core/index.js';
import type { DataPlane } from '../data-plane.js';
import { addForwardedHeaders } from '../header-forwarding.js';
import type { ModelInferRequestMessage } from './grpc-messages.js';
import { encodeStreamInferError, encodeStreamInferResponse, inferenceRequestFrom, parseModelInferRequest } from './infer-codec.js';

export class InferStream {
  /** The cancellation of each request in flight, cancelled together when the client goes. */
  private readonly inflight = new Set<Cancellation>();
  private halfClosed = false;
  private shuttingDown = false;
  private finished = false;

  constructor(
    private readonly call: ServerDuplexStream<Buffer, Buffer>,
    private readonly dataPlane: DataPlane,
    private readonly logger: Logger,
    private readonly onFinished: (stream: InferStream) => void,
    /** The call's metadata forwarded as parameters of every request on the stream. */
    private readonly forwardedHeaders: ReadonlyArray<readonly [string, string]> = [],
  ) {
    call.on('data', (bytes: Buffer) => this.onRequest(bytes));
    call.on('end', () => {
      this.halfClosed = true;
      this.maybeEnd();
    });
    call.on('cancelled', () => this.onCancelled());
    call.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'ModelStreamInfer stream error'));
  }

  /** Server shutdown: answers what is in flight, refuses what arrives after, then ends the stream. */
  shutdown(): void {
    this.shuttingDown = true;
    this.maybeEnd();
  }

  private onRequest(bytes: Buffer): void {
    if (this.finished) return;
    let message: ModelInferRequestMessage | undefined;
    try {
      message = parseModelInferRequest(bytes);
      if (this.shuttingDown) throw new InferenceError('UNAVAILABLE', 'the server is shutting down; the request was not started');
      const request = inferenceRequestFrom(message, this.dataPlane.sharedMemory);
      addForwardedHeaders(request, this.forwardedHeaders);
      const cancellation = new Cancellation();
      request.cancellation = cancellation;
      const started = message;
      this.inflight.add(cancellation);
      this.dataPlane.infer(request).then(
        (response) => this.complete(cancellation, () => encodeStreamInferResponse(response, request), started),
        (err) => this.complete(cancellation, () => encodeStreamInferError(toInferenceError(err).message, started), started),
      );
    } catch (err) {
      this.write(encodeStreamInferError(toInferenceError(err).message, message));
    }
  }

  private complete(cancellation: Cancellation, encode: () => Buffer, message: ModelInferRequestMessage): void {
    this.inflight.delete(cancellation);
    let bytes: Buffer;
    try {
      bytes = encode();
    } catch (err) {
      bytes = encodeStreamInferError(toInferenceError(err).message, message);
    }
    this.write(bytes);
    this.maybeEnd();
  }

  private write(bytes: Buffer): void {
    if (!this.finished) this.call.write(bytes);
  }

  private maybeEnd(): void {
    if (this.finished || this.inflight.size > 0 || !(this.halfClosed || this.shuttingDown)) return;
    this.finished = true;
    this.call.end();
    this.onFinished(this);
  }

  private onCancelled(): void {
    if (this.finished) return;
    this.finished = true;
    for (const cancellation of this.inflight) cancellation.cancel();
    this.onFinished(this);
  }
}
