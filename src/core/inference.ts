import type { Cancellation } from './cancellation.js';
import type { DeviceOutputTarget } from './device-tensor.js';
import type { InferenceError } from './errors.js';
import type { RequestTrace } from './request-trace.js';
import type { Tensor } from './tensor.js';

export type Parameters = Record<string, string | number | boolean>;

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

/** One inference request after decoding, whichever frontend it came from. */
export interface InferenceRequest {
  model: string;
  /** Absent: the highest ready version. */
  version?: string;
  id?: string;
  inputs: Tensor[];
  /** Absent: every output of the model. */
  outputs?: RequestedOutput[];
  parameters?: Parameters;
  /** Cancelled when the client goes away; the scheduler then drops the request if still queued. */
  cancellation?: Cancellation;
  /** Set when the trace extension sampled this request. */
  trace?: RequestTrace;
  /**
   * Set by a frontend that can pass on several responses (gRPC streaming): a decoupled
   * model's responses and final flag come here, and the request's promise resolves once
   * the final flag has come. A decoupled model refuses a request without it.
   */
  onResponse?: (part: StreamedResponse) => void;
  /**
   * Outputs the client wants in device memory (CUDA shared memory), set by the server for
   * a model whose backend can write them there (the cuda backend's device path).
   */
  deviceOutputs?: ReadonlyMap<string, DeviceOutputTarget>;
}

/**
 * One message of a decoupled model's answer to a request: a response, an error, or
 * neither (the final flag alone); `final` on the last one.
 */
export interface StreamedResponse {
  response?: InferenceResponse;
  error?: InferenceError;
  final: boolean;
}

export interface InferenceResponse {
  model: string;
  version: string;
  id?: string;
  outputs: Tensor[];
  parameters?: Parameters;
}
