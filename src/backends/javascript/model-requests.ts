import { byteElementViews, elementCount, isPackedBytes, splitByteElements, type Datatype, type PackedBytes, type TensorData } from '../../core/index.js';
import type { ExecutionBatch } from '../backend.js';
import type { ModelRequest, ModelTensor } from './model-api.js';

/** A tensor as model.js sees it (see ModelTensor): BYTES elements as views made on first read of `data`. */
export function modelTensor(name: string, datatype: Datatype, shape: number[], data: TensorData): ModelTensor {
  if (!isPackedBytes(data)) return { name, datatype, shape, data };
  let views: Uint8Array[] | undefined;
  return {
    name,
    datatype,
    shape,
    packed: data,
    get data() {
      views ??= byteElementViews(data);
      return views;
    },
    set data(value) {
      views = value as Uint8Array[];
    },
  };
}

/**
 * Cuts a batch back into the requests it was made of, as model.js sees them: each
 * request's inputs are views on the batch's buffers, so nothing is copied. Without
 * batching, a batch holds exactly one request.
 */
export function modelRequests(batch: ExecutionBatch, batching: boolean): ModelRequest[] {
  if (!batching) {
    const [only] = batch.requests;
    const inputs = batch.inputs.map((input) => modelTensor(input.name, input.datatype, input.shape, input.data));
    return [request(only, Object.fromEntries(inputs.map((input) => [input.name, input])), batch.cancelled, 0)];
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
    const { data } = input;
    const byteParts = isPackedBytes(data) ? splitByteElements(data, batch.requests.map((info) => info.rows * rowElements)) : undefined;
    batch.requests.forEach((info, k) => {
      const start = rowOffsets[k] * rowElements;
      const part = byteParts ? byteParts[k] : (data as Exclude<TensorData, PackedBytes>).subarray(start, start + info.rows * rowElements);
      requests[k].inputs[input.name] = modelTensor(input.name, input.datatype, [info.rows, ...itemShape], part);
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
