import type { Datatype, DeviceOutputTarget, ErrorCode, InferenceRequest, InferenceResponse, Parameters, Tensor } from '../core/index.js';

/** An input or output as the model file itself declares it; -1 marks a dimension of any size. */
export interface TensorSignature {
  name: string;
  /** Undefined when the model uses a type Nereid cannot serve; `nativeType` says which. */
  datatype: Datatype | undefined;
  nativeType: string;
  shape: number[];
}

export interface ModelSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

/**
 * Why an execution failed when its instance was lost (crashed, hung) before the execution
 * began: it was waiting behind the one the instance was running. Its inputs were copied
 * to the instance, not transferred, so its requests may run elsewhere.
 */
export class ExecutionNotStartedError extends Error {}

/** Time spent by one execution, in nanoseconds, split as Triton's compute statistics are. */
export interface ExecutionTiming {
  /** When the instance began this execution, on the steady clock (core/steady-clock.ts). */
  startNs: number;
  inputNs: number;
  inferNs: number;
  outputNs: number;
}

/** One request's part of a batch: which rows are its own and what it asked for. */
export interface BatchRequest {
  /** Rows of the batch that belong to this request, following the previous request's. */
  rows: number;
  /** The outputs this request wants; the batch computes their union. */
  outputNames: string[];
  parameters?: Parameters;
  id?: string;
  /** The request's outputs that go to device memory (InferenceRequest.deviceOutputs). */
  deviceOutputs?: ReadonlyMap<string, DeviceOutputTarget>;
}

/**
 * What an instance executes: the rows of every request concatenated along the batch
 * dimension (one tensor per input), plus where each request's rows are. A backend that
 * only computes tensors ignores `requests`; one that answers requests one by one (the
 * JavaScript backend) uses it to cut the batch back into requests.
 */
export interface ExecutionBatch {
  inputs: Tensor[];
  outputNames: string[];
  requests: BatchRequest[];
  /**
   * One slot per request (on a SharedArrayBuffer, so the main thread's writes are seen
   * by the worker at once): 1 once the request's client has gone. An execution whose
   * requests have all gone before it begins is skipped; a running one may look.
   */
  cancelled?: Int32Array;
}

/** The error of an execution skipped because every request of it was cancelled before it began. */
export const EXECUTION_CANCELLED_MESSAGE = 'every request of this execution was cancelled before it began';

/** Whether every request of the batch has been cancelled by its client. */
export function allCancelled(batch: ExecutionBatch): boolean {
  const flags = batch.cancelled;
  if (!flags || flags.length === 0) return false;
  for (let k = 0; k < flags.length; k++) if (Atomics.load(flags, k) === 0) return false;
  return true;
}

/**
 * One request's answer from a backend that answers requests one by one. An error without
 * a code answers as INTERNAL.
 */
export type RequestOutcome = { outputs: Tensor[] } | { error: string; code?: ErrorCode };

/**
 * Either the batch's outputs, rows in request order, for the scheduler to slice per
 * request, or one outcome per request, in request order.
 */
export type ExecutionResult =
  | { kind: 'batch'; outputs: Tensor[]; timing: ExecutionTiming }
  | { kind: 'per-request'; responses: RequestOutcome[]; timing: ExecutionTiming }
  /** A decoupled model's execution: its responses went, and may still go, to the ResponseSink. */
  | { kind: 'decoupled'; timing: ExecutionTiming };

/**
 * Where a decoupled model's responses go (config `model_transaction_policy { decoupled:
 * true }`): any number of them per request, during the execution and after it returned,
 * the last one flagged `final`. `request` is the request's index in the batch; an
 * `outcome` undefined with `final` only closes the request, without a response.
 */
export type ResponseSink = (request: number, outcome: RequestOutcome | undefined, final: boolean) => void;

/**
 * One loaded copy of a model that executes one batch at a time. Input buffers may be
 * transferred to another thread, so callers must not use them after execute().
 */
export interface ModelInstance {
  readonly name: string;
  readonly signature: ModelSignature;
  /**
   * Resolves once the instance is free for the next batch. A decoupled model's responses go to
   * `responses` instead of the result (and every request gets its final flag there, unless the
   * execution fails, which then answers the requests not yet closed).
   */
  execute(batch: ExecutionBatch, responses?: ResponseSink): Promise<ExecutionResult>;
  /** Called with the reason when the instance dies outside of an execute() call. */
  onFailure(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

/** A tensor of a model's configuration, as config.pbtxt writes it (`TYPE_FP32`, dims without the batch dimension). */
export interface ConfiguredTensor {
  name: string;
  data_type: string;
  dims: number[];
}

/**
 * The parts of a model's configuration that backends read. The whole configuration is
 * passed (ModelConfig satisfies this shape), so that a backend can hand it on, as the
 * JavaScript backend does to a model's initialize().
 */
export interface BackendModelConfig {
  name: string;
  max_batch_size: number;
  input: ConfiguredTensor[];
  output: ConfiguredTensor[];
  /** `decoupled: true`: the model sends any number of responses per request, itself. */
  model_transaction_policy?: { decoupled: boolean };
  /** The inputs the sequence batcher feeds (control inputs and implicit state) and the state outputs. */
  sequence_batching?: {
    control_input: { name: string; control: { int32_false_true: number[]; fp32_false_true: number[]; bool_false_true: boolean[]; data_type: string }[] }[];
    state: { input_name: string; output_name: string; data_type: string; dims: number[] }[];
  };
}

export interface InstanceOptions {
  modelName: string;
  version: string;
  instanceName: string;
  /** The model file of this version. */
  modelPath: string;
  /** The model's configuration as the repository gives it, before completion from the model file. */
  config: BackendModelConfig;
  /** Config `parameters` as plain strings. */
  parameters: Record<string, string>;
  /** Intra-op threads chosen by the server when the config does not set them. */
  defaultIntraOpThreads: number;
  /** config.pbtxt `optimization { graph { level } }`, 0 when absent. */
  graphOptimizationLevel: number;
  /** The CUDA device of a KIND_GPU instance; undefined runs on the CPU. */
  gpuDevice?: number;
  /** Sends a request to any model of the server through its scheduler: a JavaScript model's infer(). */
  infer?: (request: InferenceRequest) => Promise<InferenceResponse>;
}
