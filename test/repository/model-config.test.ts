import { describe, it, expect } from 'vitest';
import protobuf from 'protobufjs';
import { InferenceError } from '../../src/core/index.js';
import {
  emptyModelConfig,
  encodeModelConfig,
  modelConfigFromJson,
  modelConfigType,
  parseModelConfig,
  type ModelConfig,
  type ModelInput,
  type ModelOutput,
} from '../../src/repository/model-config.js';

// Triton's `simple` example, extended with the parts of config.pbtxt that a real
// deployment uses: version policy, priority queues, parameters, accelerators, warmup.
const SIMPLE = `
name: "simple"
platform: "onnxruntime_onnx"
max_batch_size: 8
version_policy: { specific: { versions: [1, 3] } }
input [
  {
    name: "INPUT0"
    data_type: TYPE_INT32
    dims: [ 16 ]
  },
  {
    name: "INPUT1"
    data_type: TYPE_INT32
    dims: [ 16 ]
    optional: true
  }
]
output [
  {
    name: "OUTPUT0"
    data_type: TYPE_INT32
    dims: [ 16 ]
    label_filename: "labels.txt"
  }
]
instance_group [{ count: 2, kind: KIND_CPU }]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy { max_queue_size: 16 }
  priority_queue_policy {
    key: 1
    value: { timeout_action: DELAY default_timeout_microseconds: 10000 allow_timeout_override: true }
  }
}
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
optimization {
  graph { level: 1 }
  execution_accelerators {
    gpu_execution_accelerator : [ { name : "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ]
  }
  input_pinned_memory { enable: false }
}
model_warmup [{
  name: "zeros"
  batch_size: 2
  inputs { key: "INPUT0" value: { data_type: TYPE_INT32 dims: [ 16 ] zero_data: true } }
  count: 3
}]
response_cache { enable: true }
`;

const input = (fields: Partial<ModelInput>): ModelInput => ({
  name: '', data_type: 'TYPE_INVALID', format: 'FORMAT_NONE', dims: [],
  is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false,
  ...fields,
});
const output = (fields: Partial<ModelOutput>): ModelOutput => ({
  name: '', data_type: 'TYPE_INVALID', dims: [], label_filename: '', is_shape_tensor: false, is_non_linear_format_io: false,
  ...fields,
});
const config = (fields: Partial<ModelConfig>): ModelConfig => ({
  name: '', platform: '', backend: '', runtime: '', max_batch_size: 0,
  input: [], output: [], batch_input: [], batch_output: [], instance_group: [],
  default_model_filename: '', cc_model_filenames: {}, metric_tags: {}, parameters: {}, model_warmup: [],
  ...fields,
});

const SIMPLE_CONFIG: ModelConfig = config({
  name: 'simple',
  platform: 'onnxruntime_onnx',
  max_batch_size: 8,
  version_policy: { specific: { versions: [1, 3] } },
  input: [
    input({ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }),
    input({ name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16], optional: true }),
  ],
  output: [output({ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16], label_filename: 'labels.txt' })],
  instance_group: [
    { name: '', kind: 'KIND_CPU', count: 2, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' },
  ],
  dynamic_batching: {
    preferred_batch_size: [4, 8],
    max_queue_delay_microseconds: 100,
    preserve_ordering: false,
    priority_levels: 2,
    default_priority_level: 2,
    default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 16 },
    priority_queue_policy: {
      1: { timeout_action: 'DELAY', default_timeout_microseconds: 10000, allow_timeout_override: true, max_queue_size: 0 },
    },
  },
  parameters: { intra_op_thread_count: { string_value: '1' } },
  optimization: {
    graph: { level: 1 },
    priority: 'PRIORITY_DEFAULT',
    execution_accelerators: {
      gpu_execution_accelerator: [{ name: 'tensorrt', parameters: { precision_mode: 'FP16' } }],
      cpu_execution_accelerator: [],
    },
    input_pinned_memory: { enable: false },
    gather_kernel_buffer_threshold: 0,
    eager_batching: false,
  },
  model_warmup: [
    { name: 'zeros', batch_size: 2, inputs: { INPUT0: { data_type: 'TYPE_INT32', dims: [16], zero_data: true } }, count: 3 },
  ],
  response_cache: { enable: true },
});

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(InferenceError);
    expect((err as InferenceError).code).toBe('INVALID_ARG');
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseModelConfig', () => {
  it('reads a realistic Triton config into the snake_case shape Triton returns', () => {
    expect(parseModelConfig(SIMPLE, 'config.pbtxt')).toEqual(SIMPLE_CONFIG);
  });

  it('fills every absent field with its proto3 default and leaves absent messages and oneof members undefined', () => {
    const empty = parseModelConfig('', 'config.pbtxt');
    expect(empty).toEqual(config({}));
    expect(emptyModelConfig()).toEqual(empty);
    const type = modelConfigType();
    const singularMessage = (f: protobuf.Field) => f.resolvedType instanceof protobuf.Type && !f.map && !f.repeated;
    const present = type.fieldsArray.filter((f) => !singularMessage(f) && !f.partOf);
    expect(Object.keys(empty).sort()).toEqual(present.map((f) => f.name).sort());
    expect('version_policy' in empty).toBe(false);
  });

  it('declares exactly the fields of the proto in the ModelConfig interface', () => {
    // A Record over keyof ModelConfig fails to compile when the interface and this list differ.
    const declared: Record<keyof ModelConfig, true> = {
      name: true, platform: true, backend: true, runtime: true, version_policy: true, max_batch_size: true,
      input: true, output: true, batch_input: true, batch_output: true, optimization: true,
      dynamic_batching: true, sequence_batching: true, ensemble_scheduling: true, instance_group: true,
      default_model_filename: true, cc_model_filenames: true, metric_tags: true, parameters: true,
      model_warmup: true, model_operations: true, model_transaction_policy: true,
      model_repository_agents: true, response_cache: true, model_metrics: true,
    };
    expect(Object.keys(declared).sort()).toEqual(modelConfigType().fieldsArray.map((f) => f.name).sort());
  });

  it('keeps Triton field numbers, by which tritonclient decodes', () => {
    const ids = Object.fromEntries(modelConfigType().fieldsArray.map((f) => [f.name, f.id]));
    expect(ids).toEqual({
      name: 1, platform: 2, version_policy: 3, max_batch_size: 4, input: 5, output: 6, instance_group: 7,
      default_model_filename: 8, cc_model_filenames: 9, metric_tags: 10, dynamic_batching: 11, optimization: 12,
      sequence_batching: 13, parameters: 14, ensemble_scheduling: 15, model_warmup: 16, backend: 17,
      model_operations: 18, model_transaction_policy: 19, batch_input: 20, batch_output: 21,
      model_repository_agents: 23, response_cache: 24, runtime: 25, model_metrics: 26,
    });
  });

  it('reads each version policy', () => {
    expect(parseModelConfig('version_policy: { latest: { num_versions: 2 } }', 'c').version_policy).toEqual({ latest: { num_versions: 2 } });
    expect(parseModelConfig('version_policy { all {} }', 'c').version_policy).toEqual({ all: {} });
    expect(parseModelConfig('version_policy { specific { versions: 4 versions: 5 } }', 'c').version_policy).toEqual({
      specific: { versions: [4, 5] },
    });
  });

  it('reads an ensemble', () => {
    const parsed = parseModelConfig(
      `name: "pipeline"
       platform: "ensemble"
       ensemble_scheduling {
         step [
           { model_name: "pre" model_version: -1 input_map { key: "RAW" value: "IMAGE" } output_map { key: "OUT" value: "tensor" } },
           { model_name: "cls" model_version: 2 input_map [{ key: "IN", value: "tensor" }] output_map { key: "PROB" value: "SCORES" } }
         ]
       }`,
      'config.pbtxt',
    );
    expect(parsed.ensemble_scheduling).toEqual({
      step: [
        { model_name: 'pre', model_version: -1, input_map: { RAW: 'IMAGE' }, output_map: { OUT: 'tensor' }, model_namespace: '' },
        { model_name: 'cls', model_version: 2, input_map: { IN: 'tensor' }, output_map: { PROB: 'SCORES' }, model_namespace: '' },
      ],
      max_inflight_responses: 0,
    });
    expect(parsed.dynamic_batching).toBeUndefined();
  });

  it('reads sequence batching with controls, a strategy and implicit state', () => {
    const parsed = parseModelConfig(
      `sequence_batching {
         max_sequence_idle_microseconds: 5000000
         oldest { max_candidate_sequences: 4 preferred_batch_size: [ 2 ] max_queue_delay_microseconds: 100 }
         control_input [
           { name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] },
           { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
         ]
         state [ { input_name: "IN_STATE" output_name: "OUT_STATE" data_type: TYPE_FP32 dims: [ -1 ]
                   initial_state { data_type: TYPE_FP32 dims: [ 1 ] zero_data: true name: "init" } } ]
       }`,
      'config.pbtxt',
    );
    const control = { int32_false_true: [], fp32_false_true: [], bool_false_true: [], data_type: 'TYPE_INVALID' };
    expect(parsed.sequence_batching).toEqual({
      oldest: { max_candidate_sequences: 4, preferred_batch_size: [2], max_queue_delay_microseconds: 100, preserve_ordering: false },
      max_sequence_idle_microseconds: 5000000,
      control_input: [
        { name: 'START', control: [{ ...control, kind: 'CONTROL_SEQUENCE_START', fp32_false_true: [0, 1] }] },
        { name: 'CORRID', control: [{ ...control, kind: 'CONTROL_SEQUENCE_CORRID', data_type: 'TYPE_UINT64' }] },
      ],
      state: [
        {
          input_name: 'IN_STATE', output_name: 'OUT_STATE', data_type: 'TYPE_FP32', dims: [-1],
          initial_state: [{ data_type: 'TYPE_FP32', dims: [1], zero_data: true, name: 'init' }],
          use_same_buffer_for_input_output: false, use_growable_memory: false,
        },
      ],
      iterative_sequence: false,
    });
  });

  it('reports errors as INVALID_ARG with file:line:col and the field', () => {
    const text = `${'\n'.repeat(11)}    max_batch: 8`;
    expect(errorOf(() => parseModelConfig(text, 'config.pbtxt'))).toBe("config.pbtxt:12:5: unknown field 'max_batch' in message ModelConfig");
    expect(errorOf(() => parseModelConfig('input { data_type: TYPE_FP31 }', 'm/config.pbtxt'))).toBe(
      "m/config.pbtxt:1:20: field 'data_type' in message ModelInput: 'TYPE_FP31' is not a value of enum DataType",
    );
    expect(errorOf(() => parseModelConfig('dynamic_batching {}\nsequence_batching {}', 'config.pbtxt'))).toBe(
      "config.pbtxt:2:1: field 'sequence_batching' in message ModelConfig: cannot be set together with 'dynamic_batching', both are in oneof 'scheduling_choice'",
    );
    expect(errorOf(() => parseModelConfig('dynamic_batching { priority_queue_policy { key: -1 value {} } }', 'config.pbtxt'))).toBe(
      "config.pbtxt:1:49: field 'key' in map entry of field 'priority_queue_policy' in message ModelDynamicBatching: -1 is out of range for uint64",
    );
  });
});

describe('modelConfigFromJson', () => {
  it('reads the JSON Triton returns for a config back into the same config', () => {
    const json: unknown = JSON.parse(JSON.stringify(SIMPLE_CONFIG));
    expect(modelConfigFromJson(json, 'load request')).toEqual(SIMPLE_CONFIG);
  });

  it('accepts decimal strings for integers, enum numbers, camelCase names and null for absent', () => {
    const parsed = modelConfigFromJson(
      {
        name: 'm',
        maxBatchSize: '4',
        input: [{ name: 'X', dataType: 11, dims: ['-1', 3] }],
        dynamic_batching: { max_queue_delay_microseconds: '9007199254740991', priority_queue_policy: { '01': { max_queue_size: 2 } } },
        version_policy: null,
      },
      'load request',
    );
    expect(parsed.max_batch_size).toBe(4);
    expect(parsed.input).toEqual([input({ name: 'X', data_type: 'TYPE_FP32', dims: [-1, 3] })]);
    expect(parsed.dynamic_batching?.max_queue_delay_microseconds).toBe(9007199254740991);
    expect(Object.keys(parsed.dynamic_batching?.priority_queue_policy ?? {})).toEqual(['1']);
    expect(parsed.version_policy).toBeUndefined();
  });

  it('names the JSON path of an unknown field or a bad value', () => {
    const bad = (json: unknown) => errorOf(() => modelConfigFromJson(json, 'load request'));
    expect(bad({ input: [{ name: 'a', dimz: [1] }] })).toBe("load request: input[0].dimz: unknown field 'dimz' in message ModelInput");
    expect(bad({ input: [{}, { data_type: 'TYPE_FP31' }] })).toBe("load request: input[1].data_type: 'TYPE_FP31' is not a value of enum DataType");
    expect(bad({ max_batch_size: 'eight' })).toBe('load request: max_batch_size: expects int32, got string "eight"');
    expect(bad({ instance_group: [{ count: 1.5 }] })).toBe('load request: instance_group[0].count: expects int32, got number 1.5');
    expect(bad({ name: 5 })).toBe('load request: name: expects string, got number 5');
    expect(bad({ input: { name: 'a' } })).toBe("load request: input: expected an array for repeated field 'input', got an object");
    expect(bad({ dynamic_batching: { preserve_ordering: 'yes' } })).toBe(
      'load request: dynamic_batching.preserve_ordering: expects bool, got string "yes"',
    );
    expect(bad({ dynamic_batching: { priority_queue_policy: { first: {} } } })).toBe(
      'load request: dynamic_batching.priority_queue_policy["first"]: expects uint64, got string "first"',
    );
    expect(bad({ parameters: { p: { string_value: 1 } } })).toBe('load request: parameters["p"].string_value: expects string, got number 1');
    expect(bad({ input: [{ dims: [2 ** 60] }] })).toBe(
      'load request: input[0].dims[0]: 1152921504606846976 is beyond 2^53 - 1 in magnitude and would lose precision',
    );
    expect(bad({ instance_group: [{ count: '-2147483649' }] })).toBe('load request: instance_group[0].count: -2147483649 is out of range for int32');
    expect(bad({ dynamic_batching: {}, ensemble_scheduling: {} })).toBe(
      "load request: ensemble_scheduling: cannot be set together with 'dynamic_batching', both are in oneof 'scheduling_choice'",
    );
    expect(bad({ max_batch_size: 1, maxBatchSize: 2 })).toBe("load request: maxBatchSize: field 'max_batch_size' is given twice");
    expect(bad([])).toBe('load request: expected an object for message ModelConfig, got an array');
  });
});

describe('encodeModelConfig', () => {
  it('writes only non-default fields, under Triton field numbers', () => {
    const bytes = encodeModelConfig(parseModelConfig('max_batch_size: 8 backend: "onnxruntime"', 'c'));
    // field 4 varint 8; field 17 (tag 0x8a 0x01) length 11 "onnxruntime"
    expect(Buffer.from(bytes).toString('hex')).toBe(`2008${'8a010b'}${Buffer.from('onnxruntime').toString('hex')}`);
    expect(encodeModelConfig(emptyModelConfig())).toHaveLength(0);
  });

  it('round-trips a config through the protobuf wire format', () => {
    const original = parseModelConfig(
      `${SIMPLE}
       backend: "onnxruntime"
       cc_model_filenames { key: "8.0" value: "model_a100.onnx" }
       metric_tags { key: "team" value: "search" }
       batch_input [{ kind: BATCH_ITEM_SHAPE target_name: "SHAPE" data_type: TYPE_INT32 source_input: "INPUT0" }]
       model_repository_agents { agents [{ name: "checksum" parameters { key: "MD5:model.onnx" value: "abc" } }] }`,
      'config.pbtxt',
    );
    const type = modelConfigType();
    const decoded = type.toObject(type.decode(encodeModelConfig(original)), { enums: String, longs: Number });
    // protobufjs keys a decoded 64-bit map key by its 8-byte hash; JSON keys it by its decimal form.
    const policies = decoded.dynamic_batching.priority_queue_policy as Record<string, unknown>;
    decoded.dynamic_batching.priority_queue_policy = Object.fromEntries(
      Object.entries(policies).map(([hash, policy]) => [String(protobuf.util.LongBits.fromHash(hash).toNumber(true)), policy]),
    );
    expect(modelConfigFromJson(decoded, 'decoded')).toEqual(original);
  });
});
