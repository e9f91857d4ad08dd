import type { Cancellation } from './cancellation.js';
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
}

export interface InferenceResponse {
  model: string;
  version: string;
  id?: string;
  outputs: Tensor[];
  parameters?: Parameters;
}
