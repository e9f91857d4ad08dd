/**
 * Turning queued requests into one execution and its result back into one answer per
 * request. Each request's bytes are copied once, into the batch's buffers; each
 * answer's outputs are views on the result's buffers.
 */
import { ownedTensor, type BatchRequest, type ExecutionBatch, type ExecutionResult } from '../backends/index.js';
import {
  concatByteElements,
  concatDeviceParts,
  elementCount,
  isPackedBytes,
  splitByteElements,
  type ErrorCode,
  type NumericArray,
  type PackedBytes,
  type Tensor,
} from '../core/index.js';
import type { ModelConfig } from '../repository/model-config.js';
import type { QueuedRequest } from './queued-request.js';
import { restoreOutputShape } from './request-validation.js';

/**
 * Whether requests must be compared before sharing a batch: when an input has a
 * variable dimension their shapes may differ, and when one is optional they may not
 * carry the same inputs. Otherwise validation already made every request alike.
 */
export function needsBatchKey(config: ModelConfig): boolean {
  return config.input.some((input) => input.optional || input.dims.includes(-1) || (input.reshape?.shape.includes(-1) ?? false));
}

/** Equal for requests that can share a batch: the same inputs with the same non-batch dimensions. */
export function batchKey(inputs: readonly Tensor[]): string {
  let key = '';
  for (const input of inputs) key += `${input.name}:${input.shape.slice(1).join('x')};`;
  return key;
}

function concatenate(parts: readonly Tensor[]): Tensor {
  const [first] = parts;
  let rows = 0;
  for (const part of parts) rows += part.shape[0];
  const shape = [rows, ...first.shape.slice(1)];
  const device = concatDeviceParts(parts, shape);
  if (device) return device;
  if (isPackedBytes(first.data)) {
    return { name: first.name, datatype: first.datatype, shape, data: concatByteElements(parts.map((part) => part.data as PackedBytes)) };
  }
  let length = 0;
  for (const part of parts) length += (part.data as NumericArray).length;
  const data = new (first.data.constructor as new (length: number) => NumericArray)(length);
  let offset = 0;
  for (const part of parts) {
    (data as Float32Array).set(part.data as Float32Array, offset);
    offset += (part.data as NumericArray).length;
  }
  return { name: first.name, datatype: first.datatype, shape, data };
}

/** Each request that names its outputs has an array of its own: compared by content, they are usually alike. */
function sameNames(names: readonly string[], first: readonly string[]): boolean {
  if (names === first) return true;
  if (names.length !== first.length) return false;
  for (let i = 0; i < names.length; i++) if (names[i] !== first[i]) return false;
  return true;
}

/** The requested outputs of every request, in configuration order. */
function outputUnion(requests: readonly QueuedRequest[], config: ModelConfig): string[] {
  const first = requests[0].prepared.outputNames;
  if (requests.every((r) => sameNames(r.prepared.outputNames, first))) return first;
  const wanted = new Set(requests.flatMap((r) => r.prepared.outputNames));
  return config.output.map((o) => o.name).filter((name) => wanted.has(name));
}

/** One execution of `requests`, which share a batch key and fit max_batch_size together. */
export function assembleBatch(requests: readonly QueuedRequest[], config: ModelConfig): ExecutionBatch {
  const batchRequests: BatchRequest[] = requests.map(({ prepared }) => {
    const info: BatchRequest = { rows: prepared.batchSize, outputNames: prepared.outputNames };
    if (prepared.request.parameters) info.parameters = prepared.request.parameters;
    if (prepared.request.id !== undefined) info.id = prepared.request.id;
    if (prepared.request.deviceOutputs) info.deviceOutputs = prepared.request.deviceOutputs;
    return info;
  });
  const inputs =
    requests.length === 1
      ? requests[0].prepared.inputs.map(ownedTensor)
      : requests[0].prepared.inputs.map((_, i) => concatenate(requests.map((r) => r.prepared.inputs[i])));
  return { inputs, outputNames: outputUnion(requests, config), requests: batchRequests };
}

/** Each request's outputs, or the reason it has none. */
export type RequestResult = { outputs: Tensor[] } | { error: string; code?: ErrorCode };

/** Rows [start, start + rows) of `output`, a view on its buffer; `byteParts`, BYTES outputs already split per request (`part` is this request's). */
function rowsOf(output: Tensor, start: number, rows: number, totalRows: number, byteParts: PackedBytes[] | undefined, part: number): Tensor {
  const rowElements = elementCount(output.shape) / totalRows;
  const from = start * rowElements;
  const data = byteParts ? byteParts[part] : (output.data as NumericArray).subarray(from, from + rows * rowElements);
  return { name: output.name, datatype: output.datatype, shape: [rows, ...output.shape.slice(1)], data };
}

/** Cuts a result into the answers of the requests it was computed for, in their order. */
export function splitResult(result: Exclude<ExecutionResult, { kind: 'decoupled' }>, requests: readonly QueuedRequest[], config: ModelConfig): RequestResult[] {
  const batching = config.max_batch_size > 0;
  if (result.kind === 'per-request') {
    if (result.responses.length !== requests.length) {
      const error = `the backend answered ${result.responses.length} of ${requests.length} requests`;
      return requests.map(() => ({ error }));
    }
    return result.responses.map((response, k) =>
      'error' in response
        ? response
        : { outputs: response.outputs.map((output) => restoreOutputShape(config, output, requests[k].rows)) },
    );
  }
  const byName = new Map(result.outputs.map((output) => [output.name, output]));
  for (const request of requests) {
    const missing = request.prepared.outputNames.find((name) => !byName.has(name));
    if (missing !== undefined) {
      const error = `the backend returned no output '${missing}'`;
      return requests.map(() => ({ error }));
    }
  }
  if (!batching) {
    const [only] = requests;
    return [{ outputs: only.prepared.outputNames.map((name) => restoreOutputShape(config, byName.get(name)!, 1)) }];
  }
  let totalRows = 0;
  for (const request of requests) totalRows += request.rows;
  for (const output of result.outputs) {
    if (output.shape[0] !== totalRows) {
      const error = `output '${output.name}' has shape [${output.shape.join(',')}] for a batch of ${totalRows} row(s)`;
      return requests.map(() => ({ error }));
    }
  }
  // BYTES elements have no fixed size: each such output is cut in one pass over its elements.
  const byteParts = new Map<string, PackedBytes[]>();
  for (const output of result.outputs) {
    if (!isPackedBytes(output.data)) continue;
    if (output.data.count !== elementCount(output.shape)) {
      const error = `output '${output.name}' has ${output.data.count} elements for shape [${output.shape.join(',')}]`;
      return requests.map(() => ({ error }));
    }
    const rowElements = elementCount(output.shape) / totalRows;
    byteParts.set(output.name, splitByteElements(output.data, requests.map((request) => request.rows * rowElements)));
  }
  let start = 0;
  return requests.map((request, k) => {
    const outputs = request.prepared.outputNames.map((name) =>
      restoreOutputShape(config, rowsOf(byName.get(name)!, start, request.rows, totalRows, byteParts.get(name), k), request.rows),
    );
    start += request.rows;
    return { outputs };
  });
}
