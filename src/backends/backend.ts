import type { Datatype, Tensor } from '../core/index.js';

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

/** Time spent by one execution, in nanoseconds, split as Triton's compute statistics are. */
export interface ExecutionTiming {
  inputNs: number;
  inferNs: number;
  outputNs: number;
}

export interface ExecutionResult {
  outputs: Tensor[];
  timing: ExecutionTiming;
}

/**
 * One loaded copy of a model that executes one batch at a time. Inputs carry the
 * batched shape; their buffers may be transferred away, so callers must not reuse them.
 */
export interface ModelInstance {
  readonly name: string;
  readonly signature: ModelSignature;
  execute(inputs: Tensor[], outputNames: string[]): Promise<ExecutionResult>;
  /** Called with the reason when the instance dies outside of an execute() call. */
  onFailure(listener: (error: Error) => void): void;
  close(): Promise<void>;
}

export interface InstanceOptions {
  modelName: string;
  version: string;
  instanceName: string;
  /** The model file of this version. */
  modelPath: string;
  /** Config `parameters` as plain strings. */
  parameters: Record<string, string>;
  /** Intra-op threads chosen by the server when the config does not set them. */
  defaultIntraOpThreads: number;
  /** config.pbtxt `optimization { graph { level } }`, 0 when absent. */
  graphOptimizationLevel: number;
}
