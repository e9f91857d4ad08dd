import { elementCount, type NumericArray } from '../../core/index.js';
import type { ExecutionBatch } from '../backend.js';
import type { ModelRequest, ModelTensor } from './model-api.js';

/**
 * Cuts a batch back into the requests it was made of, as model.js sees them: each
 * request's inputs are views on the batch's buffers (BYTES: slices of its array), so
 * nothing is copied. Without batching, a batch holds exactly one request.
 */
export function modelRequests(batch: ExecutionBatch, batching: boolean): ModelRequest[] {
  if (!batching) {
    const [only] = batch.requests;
    return [request(only, Object.fromEntries(batch.inputs.map((input) => [input.name, input as ModelTensor])), batch.cancelled, 0)];
  }
  const rowOffsets: number[] = [];
  let row = 0;
  for (const { rows } of batch.requests) {
    rowOffsets.push(row);
    row += rows;
  }
  const requests = batch.requests.map((info, k) => request(info, {}, batch.cancelled, k));
  for (const input of batch.inputs) {
    const itemShape = input.shape.slice(1);
    const rowElements = elementCount(itemShape);
    batch.requests.forEach((info, k) => {
      const start = rowOffsets[k] * rowElements;
      const end = start + info.rows * rowElements;
      const data = Array.isArray(input.data) ? input.data.slice(start, end) : (input.data as NumericArray).subarray(start, end);
      requests[k].inputs[input.name] = { name: input.name, datatype: input.datatype, shape: [info.rows, ...itemShape], data };
    });
  }
  return requests;
}

function request(info: ExecutionBatch['requests'][number], inputs: Record<string, ModelTensor>, cancelled: Int32Array | undefined, index: number): ModelRequest {
  const isCancelled = cancelled ? () => Atomics.load(cancelled, index) === 1 : () => false;
  const request: ModelRequest = { inputs, requestedOutputs: info.outputNames, parameters: info.parameters ?? {}, isCancelled };
  if (info.id !== undefined) request.id = info.id;
  return request;
}
