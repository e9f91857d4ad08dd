/**
 * The distinct requests a run sends, in the order they cycle: each is the model's
 * inputs for one batch, built from `batch` consecutive data steps. Built once in
 * the main thread; the wire encoders turn them into bytes once, before the load.
 */
import { InferenceError, type Datatype } from '../core/index.js';
import type { DataStep, TensorValues } from './input-data.js';
import type { ModelInfo } from './model-info.js';

export interface PlannedTensor {
  name: string;
  datatype: Datatype;
  /** The full shape, with the batch dimension when the model batches. */
  shape: number[];
  values: TensorValues;
}

export type PlannedRequest = PlannedTensor[];

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

function checkBatchSize(info: ModelInfo, batchSize: number): void {
  if (info.maxBatchSize === 0 && batchSize > 1) {
    throw invalid(`model '${info.name}' does not batch (max_batch_size 0), so -b ${batchSize} is impossible; use -b 1`);
  }
  if (info.maxBatchSize > 0 && batchSize > info.maxBatchSize) {
    throw invalid(`-b ${batchSize} exceeds the max_batch_size ${info.maxBatchSize} of model '${info.name}'`);
  }
}

export function planRequests(info: ModelInfo, steps: readonly DataStep[], batchSize: number): PlannedRequest[] {
  checkBatchSize(info, batchSize);
  if (steps.length === 0) throw invalid('no input data to send');
  if (info.decoupled) throw new InferenceError('UNSUPPORTED', `model '${info.name}' is decoupled; nereid perf does not measure decoupled models yet`);
  const batching = info.maxBatchSize > 0;
  const requests: PlannedRequest[] = [];
  for (let r = 0; r < steps.length; r++) {
    const tensors: PlannedRequest = [];
    for (const input of info.inputs) {
      const parts = Array.from({ length: batchSize }, (_, j) => steps[(r * batchSize + j) % steps.length][input.name]);
      if (parts[0] === undefined) continue; // an optional input that the data leaves out
      const shape = parts[0].shape;
      if (parts.some((p) => p === undefined || p.shape.join(',') !== shape.join(','))) {
        throw invalid(`input '${input.name}': the steps batched together in request ${r} have different shapes; use -b 1 or give equal shapes`);
      }
      const values = parts.length === 1 ? parts[0].values : (parts.flatMap((p) => p.values as unknown[]) as TensorValues);
      tensors.push({ name: input.name, datatype: input.datatype, shape: batching ? [batchSize, ...shape] : [...shape], values });
    }
    requests.push(tensors);
  }
  return requests;
}
