/**
 * Reads an ONNX model file with protobufjs and proto/onnx.proto: the graph's inputs,
 * outputs, nodes and initializers, with initializer values decoded to numbers. Only what
 * the cuda backend's graph compiler (dense-graph.ts) needs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { fp16Value } from '../../core/index.js';

// Three levels below the package root both as src/backends/cuda/*.ts and as dist/backends/cuda/*.js.
const ONNX_PROTO = fileURLToPath(new URL('../../../proto/onnx.proto', import.meta.url));

/** TensorProto.DataType values this reader decodes. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;
export const ONNX_FLOAT16 = 10;
export const ONNX_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING', 9: 'BOOL', 10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 16: 'BFLOAT16',
};

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** A symbolic or unknown dimension is -1. */
  dims: number[];
}

export interface OnnxAttribute {
  name: string;
  f?: number;
  i?: number;
  ints?: number[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  dataType: number;
  /** FLOAT and FLOAT16 as numbers, INT64 as numbers; undefined for other types. */
  values?: Float32Array | number[];
}

export interface OnnxModel {
  opsetVersion: number;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: OnnxNode[];
  initializers: Map<string, OnnxInitializer>;
}

let modelProto: protobuf.Type | undefined;

const num = (value: unknown): number => (typeof value === 'number' ? value : Number(value ?? 0));

function decodeValues(tensor: Record<string, unknown>, dataType: number, count: number): Float32Array | number[] | undefined {
  const raw = tensor.raw_data as Uint8Array | undefined;
  const view = raw && raw.length > 0 ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  if (dataType === ONNX_FLOAT) {
    if (view) return Float32Array.from({ length: raw!.length / 4 }, (_, k) => view.getFloat32(k * 4, true));
    return Float32Array.from((tensor.float_data as number[] | undefined) ?? []);
  }
  if (dataType === ONNX_FLOAT16) {
    if (view) return Float32Array.from({ length: raw!.length / 2 }, (_, k) => fp16Value(view.getUint16(k * 2, true)));
    return Float32Array.from(((tensor.int32_data as number[] | undefined) ?? []).map((bits) => fp16Value(bits)));
  }
  if (dataType === ONNX_INT64) {
    if (view) return Array.from({ length: raw!.length / 8 }, (_, k) => Number(view.getBigInt64(k * 8, true)));
    return ((tensor.int64_data as unknown[] | undefined) ?? []).map(num);
  }
  void count;
  return undefined;
}

function valueInfo(info: Record<string, any>): OnnxValueInfo {
  const tensor = info.type?.tensor_type;
  const dims = ((tensor?.shape?.dim as Record<string, unknown>[] | undefined) ?? []).map((d) => (d.dim_value !== undefined && d.dim_value !== null && num(d.dim_value) > 0 ? num(d.dim_value) : -1));
  return { name: info.name as string, elemType: num(tensor?.elem_type), dims };
}

/** Parses `path`; throws with the file named when it is not an ONNX model. */
export function readOnnxModel(path: string): OnnxModel {
  modelProto ??= new protobuf.Root().loadSync(ONNX_PROTO, { keepCase: true }).lookupType('onnx.ModelProto');
  let decoded: Record<string, any>;
  try {
    decoded = modelProto.toObject(modelProto.decode(readFileSync(path)), { longs: Number, bytes: Uint8Array as never, defaults: false }) as Record<string, any>;
  } catch (err) {
    throw new Error(`${path} is not an ONNX model: ${(err as Error).message}`);
  }
  const graph = decoded.graph ?? {};
  const initializers = new Map<string, OnnxInitializer>();
  for (const t of (graph.initializer as Record<string, any>[] | undefined) ?? []) {
    const dims = ((t.dims as unknown[] | undefined) ?? []).map(num);
    const dataType = num(t.data_type);
    if (t.data_location === 1 || (t.external_data?.length ?? 0) > 0) throw new Error(`initializer '${t.name}' keeps its data in an external file, which the cuda backend does not read`);
    initializers.set(t.name, { name: t.name, dims, dataType, values: decodeValues(t, dataType, dims.reduce((a, b) => a * b, 1)) });
  }
  const opset = ((decoded.opset_import as Record<string, unknown>[] | undefined) ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    opsetVersion: num(opset?.version),
    inputs: ((graph.input as Record<string, any>[] | undefined) ?? []).filter((i) => !initializers.has(i.name)).map(valueInfo),
    outputs: ((graph.output as Record<string, any>[] | undefined) ?? []).map(valueInfo),
    nodes: ((graph.node as Record<string, any>[] | undefined) ?? []).map((n, k) => ({
      name: (n.name as string) || `node ${k}`,
      opType: n.op_type as string,
      domain: (n.domain as string) ?? '',
      inputs: (n.input as string[] | undefined) ?? [],
      outputs: (n.output as string[] | undefined) ?? [],
      attributes: ((n.attribute as Record<string, unknown>[] | undefined) ?? []).map((a) => ({
        name: a.name as string,
        f: a.f === undefined ? undefined : num(a.f),
        i: a.i === undefined ? undefined : num(a.i),
        ints: (a.ints as unknown[] | undefined)?.map(num),
      })),
    })),
    initializers,
  };
}
