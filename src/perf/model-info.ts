/**
 * What the load generator needs to know about a model, read from the server's
 * model configuration (Triton's extension; HTTP JSON and gRPC message share the
 * field names) with the model metadata as fallback.
 */
import { datatypeFromConfig, InferenceError, isDatatype, type Datatype } from '../core/index.js';

export interface TensorInfo {
  name: string;
  datatype: Datatype;
  /** Without the batch dimension; -1 marks a dimension of any size. */
  dims: number[];
  optional: boolean;
}

export interface ModelInfo {
  name: string;
  /** The version the requests go to; empty for "the server's latest". */
  version: string;
  /** Ready versions the server reports (for reading the statistics of the right one). */
  versions: string[];
  maxBatchSize: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** A decoupled model answers a request with any number of responses. */
  decoupled: boolean;
}

type Json = Record<string, unknown>;

function dimsOf(value: unknown, where: string): number[] {
  if (!Array.isArray(value)) throw new InferenceError('INTERNAL', `${where}: 'dims' is not an array`);
  // int64 dims are strings in protobuf's JSON mapping (Triton's HTTP config endpoint).
  return value.map((d) => {
    const n = Number(d);
    if (!Number.isInteger(n)) throw new InferenceError('INTERNAL', `${where}: dimension ${JSON.stringify(d)} is not an integer`);
    return n;
  });
}

function tensorFromConfig(entry: Json, where: string): TensorInfo {
  const name = String(entry.name ?? '');
  const configType = String(entry.data_type ?? '');
  const datatype = datatypeFromConfig(configType);
  if (!datatype) throw new InferenceError('UNSUPPORTED', `${where} '${name}': datatype ${configType} is not supported by nereid perf`);
  return { name, datatype, dims: dimsOf(entry.dims, `${where} '${name}'`), optional: entry.optional === true };
}

/** From the model configuration (authoritative for batching) and the metadata (versions). */
export function modelInfoFromConfig(model: string, version: string, config: unknown, metadata: unknown): ModelInfo {
  const c = (config ?? {}) as Json;
  const m = (metadata ?? {}) as Json;
  const maxBatchSize = Number(c.max_batch_size ?? 0);
  const policy = (c.model_transaction_policy ?? {}) as Json;
  return {
    name: model,
    version,
    versions: Array.isArray(m.versions) ? m.versions.map(String) : [],
    maxBatchSize: Number.isFinite(maxBatchSize) ? maxBatchSize : 0,
    inputs: ((c.input ?? []) as Json[]).map((t) => tensorFromConfig(t, 'input')),
    outputs: ((c.output ?? []) as Json[]).map((t) => tensorFromConfig(t, 'output')),
    decoupled: policy.decoupled === true,
  };
}

function tensorFromMetadata(entry: Json, where: string): TensorInfo {
  const name = String(entry.name ?? '');
  const datatype = String(entry.datatype ?? '');
  if (!isDatatype(datatype)) throw new InferenceError('UNSUPPORTED', `${where} '${name}': datatype ${datatype} is not supported by nereid perf`);
  return { name, datatype, dims: dimsOf(entry.shape, `${where} '${name}'`), optional: false };
}

/**
 * For a server without the model configuration extension: the metadata cannot say
 * whether the first dimension is a batch dimension, so the model is taken as
 * non-batching and every -1 (the batch one included) must come from --shape.
 */
export function modelInfoFromMetadata(model: string, version: string, metadata: unknown): ModelInfo {
  const m = (metadata ?? {}) as Json;
  return {
    name: model,
    version,
    versions: Array.isArray(m.versions) ? m.versions.map(String) : [],
    maxBatchSize: 0,
    inputs: ((m.inputs ?? []) as Json[]).map((t) => tensorFromMetadata(t, 'input')),
    outputs: ((m.outputs ?? []) as Json[]).map((t) => tensorFromMetadata(t, 'output')),
    decoupled: false,
  };
}
