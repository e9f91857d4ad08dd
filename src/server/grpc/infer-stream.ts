/**
 * One ModelStreamInfer call: each request on the stream is an independent inference
 * whose answer (result or error_message) is written when it completes. A bad request
 * never ends the stream; the stream ends when the client half-closes and every
 * request has been answered, or when the client goes away (which drops its queued
 * requests).
 *
 * A decoupled model's request is answered by any number of messages, each written as the
 * model sends it, with Triton's `triton_final_response` parameter (true on the last); a
 * final flag that comes without a response is written as an empty response only when the
 * request set `triton_enable_empty_final_response`, as in Triton. Every other response
 * carries `triton_final_response: true` as well.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { Cancellation, InferenceError, toInferenceError, type InferenceRequest, type Logger, type StreamedResponse } from '../../core/index.js';
import type { DataPlane } from '../data-plane.js';
import { addForwardedHeaders } from '../header-forwarding.js';
import type { ModelInferRequestMessage } from './grpc-messages.js';
import { encodeStreamInferError, encodeStreamInferResponse, encodeStreamInferEmptyFinal, inferenceRequestFrom, parseModelInferRequest } from './infer-codec.js';

/** The request parameter by which a client asks for a decoupled model's bare final flag as an empty response. */
const EMPTY_FINAL_PARAMETER = 'triton_enable_empty_final_response';

/** Reads and removes the parameter: it is the frontend's, not the model's. */
function takeEmptyFinalResponse(request: InferenceRequest): boolean {
  const value = request.parameters?.[EMPTY_FINAL_PARAMETER];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new InferenceError('INVALID_ARG', `invalid value type for '${EMPTY_FINAL_PARAMETER}' parameter, expected bool_param.`);
  delete request.parameters![EMPTY_FINAL_PARAMETER];
  if (Object.keys(request.parameters!).length === 0) delete request.parameters;
  return value;
}

const FINAL = { triton_final_response: true };
const NOT_FINAL = { triton_final_response: false };

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
      const emptyFinal = takeEmptyFinalResponse(request);
      const cancellation = new Cancellation();
      request.cancellation = cancellation;
      const started = message;
      const decoupled = this.isDecoupled(request);
      if (decoupled) request.onResponse = (part) => this.writePart(part, request, started, emptyFinal);
      this.inflight.add(cancellation);
      this.dataPlane.infer(request).then(
        (response) =>
          decoupled
            ? this.complete(cancellation)
            : this.complete(cancellation, () => encodeStreamInferResponse(response, request, true), started),
        (err) => this.complete(cancellation, () => encodeStreamInferError(toInferenceError(err).message, started, decoupled ? FINAL : undefined), started),
      );
    } catch (err) {
      this.write(encodeStreamInferError(toInferenceError(err).message, message));
    }
  }

  /** Whether the request goes to a decoupled model; an unknown model is answered by infer() itself. */
  private isDecoupled(request: InferenceRequest): boolean {
    try {
      return this.dataPlane.isDecoupled(request.model, request.version);
    } catch {
      return false;
    }
  }

  /** One message of a decoupled model's answer, written at once. */
  private writePart(part: StreamedResponse, request: InferenceRequest, message: ModelInferRequestMessage, emptyFinal: boolean): void {
    const flag = part.final ? FINAL : NOT_FINAL;
    let bytes: Buffer;
    try {
      if (part.error) bytes = encodeStreamInferError(part.error.message, message, flag);
      else if (part.response) bytes = encodeStreamInferResponse(part.response, request, part.final);
      else if (emptyFinal) bytes = encodeStreamInferEmptyFinal(message);
      else return;
    } catch (err) {
      bytes = encodeStreamInferError(toInferenceError(err).message, message, flag);
    }
    this.write(bytes);
  }

  /** The request has been answered; `encode` gives its answer, unless its responses were written as they came. */
  private complete(cancellation: Cancellation, encode?: () => Buffer, message?: ModelInferRequestMessage): void {
    this.inflight.delete(cancellation);
    if (encode) {
      let bytes: Buffer;
      try {
        bytes = encode();
      } catch (err) {
        bytes = encodeStreamInferError(toInferenceError(err).message, message);
      }
      this.write(bytes);
    }
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
