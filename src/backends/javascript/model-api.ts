/**
 * The contract between Nereid and a JavaScript model (`<version>/model.js` or `.mjs`),
 * the counterpart of Triton's Python backend. The module exports:
 *
 *   initialize(args: InitializeArgs): void | Promise<void>                         (optional)
 *   execute(requests: ModelRequest[], context: ExecuteContext): ModelResponse[] | Promise<…>   (required)
 *   finalize(): void | Promise<void>                                               (optional)
 *
 * Each instance of the model runs the module in its own worker thread, so execute()
 * may block. execute() receives every request of one batch, in arrival order, and
 * returns one response per request, in the same order; a thrown error fails every
 * request of the batch with its message. An execution that takes longer than the
 * config parameter `execute_timeout_ms` (default 30000; 0 for no limit) fails its
 * requests, and the instance's worker is stopped and restarted.
 *
 * Decoupled models (config `model_transaction_policy { decoupled: true }`), as Triton's
 * Python backend's: execute() sends each request's responses itself, any number of them,
 * with `request.responseSender.send(response)`, and ends each request with
 * `send(response, { final: true })` or `send(undefined, { final: true })` (no response,
 * only the final flag). It may go on sending after it returned: the instance takes its
 * next batch once execute() returns (or its promise settles), and it returns nothing. A
 * request whose execute() throws, or whose instance is lost, is ended with an error.
 *
 * Business logic scripting: `await context.infer({ model, inputs })` sends a request to
 * any model of the server, through that model's scheduler (so it is batched with other
 * requests to it), and resolves with its outputs or rejects with its error.
 */
import type { Datatype, ErrorCode, NumericArray, PackedBytes, Parameters, TensorData } from '../../core/index.js';

export interface InitializeArgs {
  modelName: string;
  modelVersion: string;
  instanceName: string;
  /** The folder of the model (holding config.pbtxt and the version folders). */
  modelDirectory: string;
  /** The model configuration, with config.pbtxt field names. */
  config: unknown;
}

/**
 * An input as the model sees it. Numeric data is a typed array (BOOL as 0/1 bytes,
 * FP16 and BF16 as raw 16-bit patterns) viewing the batch's buffer. BYTES data is an
 * array of byte strings (Uint8Array views on one buffer, made when `data` is first
 * read), and `packed` holds the same elements packed in that one buffer: a model that
 * handles millions of elements can read `packed` (and return it as an output's data)
 * without making an object per element.
 */
export interface ModelTensor {
  name: string;
  datatype: Datatype;
  /** With the request's own batch dimension first when the model batches. */
  shape: number[];
  data: NumericArray | Uint8Array[];
  /** BYTES only: the elements, each a 4-byte little-endian length then its bytes, back to back. */
  packed?: PackedBytes;
}

export interface ModelRequest {
  id?: string;
  inputs: Record<string, ModelTensor>;
  /** The outputs this request asked for; others may be returned and are dropped. */
  requestedOutputs: string[];
  parameters: Parameters;
  /**
   * Whether the client has gone away (HTTP disconnect, gRPC cancel or deadline) since the
   * request was queued, as Triton's Python backend's `is_cancelled()`. A long execute()
   * may check it and stop early: the answer of a cancelled request is dropped and it
   * counts as a CANCELED failure whatever execute() returns.
   */
  isCancelled(): boolean;
  /** Present for a decoupled model only: where this request's responses go. */
  responseSender?: ResponseSender;
}

export interface SendOptions {
  /** The last response of the request: send() may not be called for it again. */
  final?: boolean;
}

/** A decoupled model's channel back to one request's client. */
export interface ResponseSender {
  /**
   * Sends `response` ({ outputs } or { error }) to the client, or, with `undefined`, only
   * the final flag. A response that does not fit the configuration reaches the client as
   * an error naming what was wrong. Throws once the request has had its final response.
   */
  send(response: ModelResponse | undefined, options?: SendOptions): void;
  /** True once the final response was sent (or the request was ended by an error). */
  readonly closed: boolean;
  /**
   * Whether the client has gone away (gRPC stream cancelled or closed by the client's
   * side, HTTP disconnect), as Triton's Python backend's `response_sender.is_cancelled()`;
   * the same as the request's isCancelled(), and valid after execute() returned, until
   * the final response. A model that streams should stop and send its final flag: what it
   * sends to a cancelled request reaches nobody.
   */
  isCancelled(): boolean;
}

/**
 * An output as execute() returns it. `datatype` defaults to the configured one; `data`
 * may be a typed array of the datatype's storage type or a plain array of numbers,
 * booleans (BOOL), or for BYTES an array of strings and Uint8Arrays or PackedBytes (an
 * input's `packed`, say).
 */
export interface ModelOutputTensor {
  datatype?: Datatype;
  shape: number[];
  data: TensorData | ArrayLike<number | boolean | bigint> | Array<string | Uint8Array>;
}

/**
 * `{ error }` fails the request: with a 500 (INTERNAL), or with the status of the
 * Error's `code` property when it is one of Nereid's error codes (`INVALID_ARG` for a
 * 400: the request was bad, not the model), as a Python backend's TritonError code does.
 */
export type ModelResponse = { outputs: Record<string, ModelOutputTensor> } | { error: string | Error };

/**
 * A request from a model to another model of the server. Each input is a ModelTensor
 * (an input of the calling request may be passed on as it is) or { datatype, shape,
 * data } as for outputs; `datatype` may be left out for a typed array whose type says it
 * (Float32Array: FP32, Int32Array: INT32, …) and for an array of strings (BYTES).
 */
export interface ModelInferRequest {
  model: string;
  /** Absent: the highest ready version. */
  version?: string | number;
  inputs: Record<string, ModelOutputTensor> | Array<ModelOutputTensor & { name: string }>;
  /** The outputs wanted; absent: all of them. */
  outputs?: string[];
  parameters?: Parameters;
  id?: string;
}

export interface ModelInferResponse {
  model: string;
  version: string;
  id?: string;
  outputs: Record<string, ModelTensor>;
}

/** What infer() rejects with: the server's message, and the code that would have answered a client. */
export interface ModelInferError extends Error {
  code: ErrorCode;
}

export interface ExecuteContext {
  infer(request: ModelInferRequest): Promise<ModelInferResponse>;
}
