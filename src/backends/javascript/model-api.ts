/**
 * The contract between Nereid and a JavaScript model (`<version>/model.js` or `.mjs`),
 * the counterpart of Triton's Python backend. The module exports:
 *
 *   initialize(args: InitializeArgs): void | Promise<void>              (optional)
 *   execute(requests: ModelRequest[]): ModelResponse[] | Promise<…>     (required)
 *   finalize(): void | Promise<void>                                    (optional)
 *
 * Each instance of the model runs the module in its own worker thread, so execute()
 * may block. execute() receives every request of one batch, in arrival order, and
 * returns one response per request, in the same order; a thrown error fails every
 * request of the batch with its message.
 */
import type { Datatype, Parameters, TensorData } from '../../core/index.js';

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
 * FP16 and BF16 as raw 16-bit patterns) viewing the batch's buffer; BYTES data is an
 * array of byte strings.
 */
export interface ModelTensor {
  name: string;
  datatype: Datatype;
  /** With the request's own batch dimension first when the model batches. */
  shape: number[];
  data: TensorData;
}

export interface ModelRequest {
  id?: string;
  inputs: Record<string, ModelTensor>;
  /** The outputs this request asked for; others may be returned and are dropped. */
  requestedOutputs: string[];
  parameters: Parameters;
}

/**
 * An output as execute() returns it. `datatype` defaults to the configured one; `data`
 * may be a typed array of the datatype's storage type or a plain array of numbers,
 * booleans (BOOL) or strings (BYTES).
 */
export interface ModelOutputTensor {
  datatype?: Datatype;
  shape: number[];
  data: TensorData | ArrayLike<number | boolean | bigint> | string[];
}

export type ModelResponse = { outputs: Record<string, ModelOutputTensor> } | { error: string | Error };
