// Writes the example model repository: for each model, `<name>/config.pbtxt` as a
// Triton user would write it and `<name>/1/model.onnx` encoded with protobufjs from
// proto/onnx.proto. The output is a pure function of this file and mlp-weights.ts,
// so regenerating leaves the committed files byte-identical.
//
//   npx tsx model_repository/generate.ts      (or: npm run generate-models)

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import protobuf from 'protobufjs';
import { MLP_HIDDEN, MLP_INPUT, MLP_OUTPUT, mlpWeights } from './mlp-weights.js';

const ONNX_PROTO = fileURLToPath(new URL('../proto/onnx.proto', import.meta.url));

// IR 8 / opset 17 are old enough for any onnxruntime of the last years and new
// enough for string Identity and symbolic dims everywhere.
const IR_VERSION = 8;
const OPSET_VERSION = 17;
const PRODUCER_NAME = 'nereid model_repository/generate.ts';

/** Config data types used by the examples, with their ONNX TensorProto.DataType. */
const ONNX_ELEM_TYPE = {
  TYPE_FP32: 1,
  TYPE_INT32: 6,
  TYPE_STRING: 8,
} as const;
type ConfigDataType = keyof typeof ONNX_ELEM_TYPE;

const ATTRIBUTE_INT = 2;

interface TensorSpec {
  name: string;
  dataType: ConfigDataType;
  /** Per-request shape; a string is a symbolic ONNX dim and `-1` in config.pbtxt. */
  dims: (number | string)[];
}

interface NodeSpec {
  op_type: string;
  input: string[];
  output: string[];
  attribute?: { name: string; type: number; i: number }[];
}

interface InitializerSpec {
  name: string;
  dims: number[];
  values: Float32Array;
}

interface ModelSpec {
  name: string;
  description: string;
  maxBatchSize: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  nodes: () => NodeSpec[];
  initializers?: () => InitializerSpec[];
}

const BATCH_DIM = 'batch';

function addSub(name: string, dataType: ConfigDataType, maxBatchSize: number): ModelSpec {
  const tensor = (tensorName: string): TensorSpec => ({ name: tensorName, dataType, dims: [16] });
  return {
    name,
    description: 'OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1',
    maxBatchSize,
    inputs: [tensor('INPUT0'), tensor('INPUT1')],
    outputs: [tensor('OUTPUT0'), tensor('OUTPUT1')],
    nodes: () => [
      { op_type: 'Add', input: ['INPUT0', 'INPUT1'], output: ['OUTPUT0'] },
      { op_type: 'Sub', input: ['INPUT0', 'INPUT1'], output: ['OUTPUT1'] },
    ],
  };
}

function identity(name: string, dataType: ConfigDataType): ModelSpec {
  const tensor = (tensorName: string): TensorSpec => ({ name: tensorName, dataType, dims: ['n'] });
  return {
    name,
    description: 'OUTPUT0 = INPUT0',
    maxBatchSize: 8,
    inputs: [tensor('INPUT0')],
    outputs: [tensor('OUTPUT0')],
    nodes: () => [{ op_type: 'Identity', input: ['INPUT0'], output: ['OUTPUT0'] }],
  };
}

function mlp(): ModelSpec {
  const dense = (k: number, input: string, output: string): NodeSpec => ({
    op_type: 'Gemm',
    input: [input, `fc${k}.weight`, `fc${k}.bias`],
    output: [output],
    // Weights are stored [out, in] (see mlp-weights.ts), so B is transposed.
    attribute: [{ name: 'transB', type: ATTRIBUTE_INT, i: 1 }],
  });
  return {
    name: 'mlp',
    description: `dense ${MLP_INPUT}→${MLP_HIDDEN}, ReLU, dense ${MLP_HIDDEN}→${MLP_HIDDEN}, ReLU, dense ${MLP_HIDDEN}→${MLP_OUTPUT}`,
    maxBatchSize: 128,
    inputs: [{ name: 'INPUT0', dataType: 'TYPE_FP32', dims: [MLP_INPUT] }],
    outputs: [{ name: 'OUTPUT0', dataType: 'TYPE_FP32', dims: [MLP_OUTPUT] }],
    nodes: () => [
      dense(1, 'INPUT0', 'fc1'),
      { op_type: 'Relu', input: ['fc1'], output: ['relu1'] },
      dense(2, 'relu1', 'fc2'),
      { op_type: 'Relu', input: ['fc2'], output: ['relu2'] },
      dense(3, 'relu2', 'OUTPUT0'),
    ],
    initializers: () => {
      const w = mlpWeights();
      return [
        { name: 'fc1.weight', dims: [MLP_HIDDEN, MLP_INPUT], values: w.w1 },
        { name: 'fc1.bias', dims: [MLP_HIDDEN], values: w.b1 },
        { name: 'fc2.weight', dims: [MLP_HIDDEN, MLP_HIDDEN], values: w.w2 },
        { name: 'fc2.bias', dims: [MLP_HIDDEN], values: w.b2 },
        { name: 'fc3.weight', dims: [MLP_OUTPUT, MLP_HIDDEN], values: w.w3 },
        { name: 'fc3.bias', dims: [MLP_OUTPUT], values: w.b3 },
      ];
    },
  };
}

const MODELS: readonly ModelSpec[] = [
  addSub('simple', 'TYPE_INT32', 8),
  addSub('add_sub', 'TYPE_FP32', 64),
  identity('identity_fp32', 'TYPE_FP32'),
  identity('identity_bytes', 'TYPE_STRING'),
  mlp(),
];

/** Names of the models that generateModels writes, in the order it writes them. */
export const EXAMPLE_MODEL_NAMES: readonly string[] = MODELS.map((m) => m.name);

function float32LittleEndian(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < values.length; k++) view.setFloat32(k * 4, values[k], true);
  return bytes;
}

function valueInfo(tensor: TensorSpec, maxBatchSize: number): object {
  const dims = maxBatchSize > 0 ? [BATCH_DIM, ...tensor.dims] : tensor.dims;
  return {
    name: tensor.name,
    type: {
      tensor_type: {
        elem_type: ONNX_ELEM_TYPE[tensor.dataType],
        shape: {
          dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })),
        },
      },
    },
  };
}

function onnxModel(spec: ModelSpec): object {
  return {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET_VERSION }],
    producer_name: PRODUCER_NAME,
    doc_string: spec.description,
    graph: {
      name: spec.name,
      node: spec.nodes().map((n, k) => ({ ...n, name: `${n.op_type.toLowerCase()}_${k}` })),
      initializer: (spec.initializers?.() ?? []).map((t) => ({
        name: t.name,
        dims: t.dims,
        data_type: ONNX_ELEM_TYPE.TYPE_FP32,
        raw_data: float32LittleEndian(t.values),
      })),
      input: spec.inputs.map((t) => valueInfo(t, spec.maxBatchSize)),
      output: spec.outputs.map((t) => valueInfo(t, spec.maxBatchSize)),
    },
  };
}

function configPbtxt(spec: ModelSpec): string {
  const tensors = (tensors: TensorSpec[]): string =>
    tensors
      .map((t) => {
        const dims = t.dims.map((d) => (typeof d === 'string' ? -1 : d)).join(', ');
        return `  {\n    name: "${t.name}"\n    data_type: ${t.dataType}\n    dims: [ ${dims} ]\n  }`;
      })
      .join(',\n');
  return [
    `name: "${spec.name}"`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${spec.maxBatchSize}`,
    `input [\n${tensors(spec.inputs)}\n]`,
    `output [\n${tensors(spec.outputs)}\n]`,
    'instance_group [\n  {\n    count: 1\n    kind: KIND_CPU\n  }\n]',
    '',
  ].join('\n');
}

/**
 * Writes every example model under `outDir` (created if missing) and returns the
 * paths written, relative to `outDir`, with `/` separators.
 */
export async function generateModels(outDir: string): Promise<string[]> {
  const root = new protobuf.Root().loadSync(ONNX_PROTO, { keepCase: true });
  const ModelProto = root.lookupType('onnx.ModelProto');
  const written: string[] = [];
  for (const spec of MODELS) {
    const onnx = ModelProto.encode(ModelProto.fromObject(onnxModel(spec))).finish();
    await mkdir(join(outDir, spec.name, '1'), { recursive: true });
    await writeFile(join(outDir, spec.name, 'config.pbtxt'), configPbtxt(spec));
    await writeFile(join(outDir, spec.name, '1', 'model.onnx'), onnx);
    written.push(`${spec.name}/config.pbtxt`, `${spec.name}/1/model.onnx`);
  }
  return written;
}

const invokedAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;

if (invokedAsScript) {
  const outDir = fileURLToPath(new URL('.', import.meta.url));
  for (const path of await generateModels(outDir)) console.log(join(outDir, path));
}
