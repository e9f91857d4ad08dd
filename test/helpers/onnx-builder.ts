/**
 * Writes small ONNX models for tests with protobufjs and proto/onnx.proto: dense graphs
 * for the cuda backend, with FLOAT and INT64 initializers and a symbolic batch dimension.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const ONNX_PROTO = fileURLToPath(new URL('../../proto/onnx.proto', import.meta.url));

export interface BuiltNode {
  op: string;
  inputs: string[];
  outputs: string[];
  ints?: Record<string, number>;
  floats?: Record<string, number>;
  domain?: string;
}

export interface BuiltGraph {
  inputs: Array<{ name: string; dims: Array<number | string>; elemType?: number }>;
  outputs: Array<{ name: string; dims: Array<number | string>; elemType?: number }>;
  nodes: BuiltNode[];
  floats?: Array<{ name: string; dims: number[]; values: Float32Array }>;
  int64s?: Array<{ name: string; values: number[] }>;
  opset?: number;
}

export function onnxBytes(graph: BuiltGraph): Uint8Array {
  const ModelProto = new protobuf.Root().loadSync(ONNX_PROTO, { keepCase: true }).lookupType('onnx.ModelProto');
  const info = (v: { name: string; dims: Array<number | string>; elemType?: number }) => ({
    name: v.name,
    type: { tensor_type: { elem_type: v.elemType ?? 1, shape: { dim: v.dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } },
  });
  const raw = (values: Float32Array) => {
    const bytes = new Uint8Array(values.length * 4);
    values.forEach((v, k) => new DataView(bytes.buffer).setFloat32(k * 4, v, true));
    return bytes;
  };
  const model = {
    ir_version: 8,
    opset_import: [{ domain: '', version: graph.opset ?? 17 }],
    producer_name: 'nereid test/helpers/onnx-builder.ts',
    graph: {
      name: 'test',
      node: graph.nodes.map((n, k) => ({
        name: `${n.op.toLowerCase()}_${k}`,
        op_type: n.op,
        domain: n.domain ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: [
          ...Object.entries(n.ints ?? {}).map(([name, i]) => ({ name, type: 2, i })),
          ...Object.entries(n.floats ?? {}).map(([name, f]) => ({ name, type: 1, f })),
        ],
      })),
      initializer: [
        ...(graph.floats ?? []).map((t) => ({ name: t.name, dims: t.dims, data_type: 1, raw_data: raw(t.values) })),
        ...(graph.int64s ?? []).map((t) => ({ name: t.name, dims: [t.values.length], data_type: 7, int64_data: t.values })),
      ],
      input: graph.inputs.map(info),
      output: graph.outputs.map(info),
    },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** Deterministic values in [-scale, scale). */
export function pseudoRandom(count: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  });
}
