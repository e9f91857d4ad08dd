/**
 * The model configuration (config.pbtxt, or JSON in a load request) as a typed object.
 *
 * Field names are the .proto names in snake_case, enums their value names, 64-bit
 * integers numbers: the shape Triton returns from its model configuration endpoint.
 * Every field is present with its proto3 default, except absent message fields and
 * oneof members, which stay undefined so that callers can tell "not given" (e.g. no
 * version_policy means Triton's default policy, latest 1).
 */

import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { InferenceError } from '../core/index.js';
import { integerProblem, isIntegerType, messageName, parseTextFormat, scalarDefault, type PlainMessage } from './pbtxt-parser.js';

export type DataType =
  | 'TYPE_INVALID' | 'TYPE_BOOL'
  | 'TYPE_UINT8' | 'TYPE_UINT16' | 'TYPE_UINT32' | 'TYPE_UINT64'
  | 'TYPE_INT8' | 'TYPE_INT16' | 'TYPE_INT32' | 'TYPE_INT64'
  | 'TYPE_FP16' | 'TYPE_FP32' | 'TYPE_FP64' | 'TYPE_STRING' | 'TYPE_BF16';

export interface ModelRateLimiterResource { name: string; global: boolean; count: number }
export interface ModelRateLimiter { resources: ModelRateLimiterResource[]; priority: number }

export type ModelInstanceGroupKind = 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU' | 'KIND_MODEL';
export interface ModelInstanceGroupSecondaryDevice { kind: 'KIND_NVDLA'; device_id: number }
export interface ModelInstanceGroup {
  name: string;
  kind: ModelInstanceGroupKind;
  count: number;
  rate_limiter?: ModelRateLimiter;
  gpus: number[];
  secondary_devices: ModelInstanceGroupSecondaryDevice[];
  profile: string[];
  passive: boolean;
  host_policy: string;
}

export interface ModelTensorReshape { shape: number[] }

export type ModelInputFormat = 'FORMAT_NONE' | 'FORMAT_NHWC' | 'FORMAT_NCHW';
export interface ModelInput {
  name: string;
  data_type: DataType;
  format: ModelInputFormat;
  dims: number[];
  reshape?: ModelTensorReshape;
  is_shape_tensor: boolean;
  allow_ragged_batch: boolean;
  optional: boolean;
  is_non_linear_format_io: boolean;
}

export interface ModelOutput {
  name: string;
  data_type: DataType;
  dims: number[];
  reshape?: ModelTensorReshape;
  label_filename: string;
  is_shape_tensor: boolean;
  is_non_linear_format_io: boolean;
}

export type BatchInputKind =
  | 'BATCH_ELEMENT_COUNT' | 'BATCH_ACCUMULATED_ELEMENT_COUNT' | 'BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO'
  | 'BATCH_MAX_ELEMENT_COUNT_AS_SHAPE' | 'BATCH_ITEM_SHAPE' | 'BATCH_ITEM_SHAPE_FLATTEN';
export interface BatchInput { kind: BatchInputKind; target_name: string[]; data_type: DataType; source_input: string[] }
export interface BatchOutput { target_name: string[]; kind: 'BATCH_SCATTER_WITH_INPUT_SHAPE'; source_input: string[] }

export interface ModelVersionPolicyLatest { num_versions: number }
export interface ModelVersionPolicySpecific { versions: number[] }
/** At most one member is set (oneof policy_choice). */
export interface ModelVersionPolicy {
  latest?: ModelVersionPolicyLatest;
  all?: Record<string, never>;
  specific?: ModelVersionPolicySpecific;
}

export type ModelPriority = 'PRIORITY_DEFAULT' | 'PRIORITY_MAX' | 'PRIORITY_MIN';
export interface ModelOptimizationGraph { level: number }
export interface ModelCudaGraphShape { dim: number[] }
export interface ModelCudaGraphLowerBound { batch_size: number; input: Record<string, ModelCudaGraphShape> }
export interface ModelCudaGraphSpec {
  batch_size: number;
  input: Record<string, ModelCudaGraphShape>;
  graph_lower_bound?: ModelCudaGraphLowerBound;
}
export interface ModelOptimizationCuda {
  graphs: boolean;
  busy_wait_events: boolean;
  graph_spec: ModelCudaGraphSpec[];
  output_copy_stream: boolean;
}
export interface ModelExecutionAccelerator { name: string; parameters: Record<string, string> }
export interface ModelExecutionAccelerators {
  gpu_execution_accelerator: ModelExecutionAccelerator[];
  cpu_execution_accelerator: ModelExecutionAccelerator[];
}
export interface ModelPinnedMemoryBuffer { enable: boolean }
export interface ModelOptimizationPolicy {
  graph?: ModelOptimizationGraph;
  priority: ModelPriority;
  cuda?: ModelOptimizationCuda;
  execution_accelerators?: ModelExecutionAccelerators;
  input_pinned_memory?: ModelPinnedMemoryBuffer;
  output_pinned_memory?: ModelPinnedMemoryBuffer;
  gather_kernel_buffer_threshold: number;
  eager_batching: boolean;
}

export interface ModelQueuePolicy {
  timeout_action: 'REJECT' | 'DELAY';
  default_timeout_microseconds: number;
  allow_timeout_override: boolean;
  max_queue_size: number;
}

export interface ModelDynamicBatching {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
  priority_levels: number;
  default_priority_level: number;
  default_queue_policy?: ModelQueuePolicy;
  /** Keyed by priority level in decimal. */
  priority_queue_policy: Record<string, ModelQueuePolicy>;
}

export type ModelSequenceControlKind =
  | 'CONTROL_SEQUENCE_START' | 'CONTROL_SEQUENCE_READY' | 'CONTROL_SEQUENCE_END' | 'CONTROL_SEQUENCE_CORRID';
export interface ModelSequenceControl {
  kind: ModelSequenceControlKind;
  int32_false_true: number[];
  fp32_false_true: number[];
  bool_false_true: boolean[];
  data_type: DataType;
}
export interface ModelSequenceControlInput { name: string; control: ModelSequenceControl[] }
/** At most one of zero_data and data_file is set (oneof state_data). */
export interface ModelSequenceInitialState {
  data_type: DataType;
  dims: number[];
  zero_data?: boolean;
  data_file?: string;
  name: string;
}
export interface ModelSequenceState {
  input_name: string;
  output_name: string;
  data_type: DataType;
  dims: number[];
  initial_state: ModelSequenceInitialState[];
  use_same_buffer_for_input_output: boolean;
  use_growable_memory: boolean;
}
export interface ModelSequenceStrategyDirect { max_queue_delay_microseconds: number; minimum_slot_utilization: number }
export interface ModelSequenceStrategyOldest {
  max_candidate_sequences: number;
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
}
/** At most one of direct and oldest is set (oneof strategy_choice). */
export interface ModelSequenceBatching {
  direct?: ModelSequenceStrategyDirect;
  oldest?: ModelSequenceStrategyOldest;
  max_sequence_idle_microseconds: number;
  control_input: ModelSequenceControlInput[];
  state: ModelSequenceState[];
  iterative_sequence: boolean;
}

export interface ModelEnsemblingStep {
  model_name: string;
  model_version: number;
  input_map: Record<string, string>;
  output_map: Record<string, string>;
  model_namespace: string;
}
export interface ModelEnsembling { step: ModelEnsemblingStep[]; max_inflight_responses: number }

export interface ModelParameter { string_value: string }

/** At most one of zero_data, random_data and input_data_file is set (oneof input_data_type). */
export interface ModelWarmupInput {
  data_type: DataType;
  dims: number[];
  zero_data?: boolean;
  random_data?: boolean;
  input_data_file?: string;
}
export interface ModelWarmup { name: string; batch_size: number; inputs: Record<string, ModelWarmupInput>; count: number }

export interface ModelOperations { op_library_filename: string[] }
export interface ModelTransactionPolicy { decoupled: boolean }
export interface ModelRepositoryAgent { name: string; parameters: Record<string, string> }
export interface ModelRepositoryAgents { agents: ModelRepositoryAgent[] }
export interface ModelResponseCache { enable: boolean }
export interface ModelMetricControl {
  metric_identifier?: { family: string };
  histogram_options?: { buckets: number[] };
}
export interface ModelMetrics { metric_control: ModelMetricControl[] }

/** At most one of dynamic_batching, sequence_batching and ensemble_scheduling is set (oneof scheduling_choice). */
export interface ModelConfig {
  name: string;
  platform: string;
  backend: string;
  runtime: string;
  version_policy?: ModelVersionPolicy;
  max_batch_size: number;
  input: ModelInput[];
  output: ModelOutput[];
  batch_input: BatchInput[];
  batch_output: BatchOutput[];
  optimization?: ModelOptimizationPolicy;
  dynamic_batching?: ModelDynamicBatching;
  sequence_batching?: ModelSequenceBatching;
  ensemble_scheduling?: ModelEnsembling;
  instance_group: ModelInstanceGroup[];
  default_model_filename: string;
  cc_model_filenames: Record<string, string>;
  metric_tags: Record<string, string>;
  parameters: Record<string, ModelParameter>;
  model_warmup: ModelWarmup[];
  model_operations?: ModelOperations;
  model_transaction_policy?: ModelTransactionPolicy;
  model_repository_agents?: ModelRepositoryAgents;
  response_cache?: ModelResponseCache;
  model_metrics?: ModelMetrics;
}

let configType: protobuf.Type | undefined;

/** The ModelConfig message type of proto/model_config.proto, loaded on first use. */
export function modelConfigType(): protobuf.Type {
  if (!configType) {
    // Two levels below the package root both as src/repository/*.ts and as dist/repository/*.js.
    const file = new URL('../../proto/model_config.proto', import.meta.url);
    const { root } = protobuf.parse(readFileSync(file, 'utf8'), { keepCase: true });
    root.resolveAll();
    configType = root.lookupType('inference.ModelConfig');
  }
  return configType;
}

/** A config with every field at its default: what a model without config.pbtxt starts from. */
export function emptyModelConfig(): ModelConfig {
  return withDefaults(modelConfigType(), {}) as unknown as ModelConfig;
}

/** Fills every field `partial` leaves out with its default, at every depth. */
export function completeModelConfig(partial: PlainMessage): ModelConfig {
  return withDefaults(modelConfigType(), partial) as unknown as ModelConfig;
}

export function parseModelConfig(text: string, fileName: string): ModelConfig {
  const type = modelConfigType();
  return withDefaults(type, parseTextFormat(type, text, fileName)) as unknown as ModelConfig;
}

/**
 * Reads a config given as JSON, as Triton accepts in a load request: proto field names
 * (or their lowerCamelCase JSON names), enums by name or number, integers as numbers or
 * decimal strings. `source` prefixes every error, which also names the JSON path.
 */
export function modelConfigFromJson(json: unknown, source: string): ModelConfig {
  const type = modelConfigType();
  return withDefaults(type, new JsonReader(source).message(type, json, '')) as unknown as ModelConfig;
}

/** The protobuf wire encoding of `config`, as the gRPC ModelConfig RPC returns it. */
export function encodeModelConfig(config: ModelConfig): Uint8Array {
  const type = modelConfigType();
  return type.encode(type.fromObject(withoutDefaults(type, config as unknown as PlainMessage))).finish();
}

function withDefaults(type: protobuf.Type, message: PlainMessage): PlainMessage {
  const full: PlainMessage = {};
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const fill = (v: unknown): unknown => (nested ? withDefaults(nested, v as PlainMessage) : v);
    if (field.map) {
      full[field.name] = Object.fromEntries(Object.entries((value ?? {}) as PlainMessage).map(([k, v]) => [k, fill(v)]));
    } else if (field.repeated) {
      full[field.name] = ((value ?? []) as unknown[]).map(fill);
    } else if (value !== undefined) {
      full[field.name] = fill(value);
    } else if (!nested && !field.partOf) {
      full[field.name] = scalarDefault(field);
    }
  }
  return full;
}

/**
 * Drops fields at their proto3 default, which protobufjs would otherwise write: proto3
 * (and so Triton) leaves them off the wire, and the bytes should be the ones Triton sends.
 */
function withoutDefaults(type: protobuf.Type, message: PlainMessage): PlainMessage {
  const sparse: PlainMessage = {};
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const strip = (v: unknown): unknown => (nested ? withoutDefaults(nested, v as PlainMessage) : v);
    if (value === undefined) continue;
    if (field.map) {
      const entries = Object.entries(value as PlainMessage);
      if (entries.length > 0) sparse[field.name] = Object.fromEntries(entries.map(([k, v]) => [k, strip(v)]));
    } else if (field.repeated) {
      if ((value as unknown[]).length > 0) sparse[field.name] = (value as unknown[]).map(strip);
    } else if (nested || field.partOf) {
      sparse[field.name] = strip(value);
    } else if (!isScalarDefault(field, value)) {
      sparse[field.name] = value;
    }
  }
  return sparse;
}

function isScalarDefault(field: protobuf.Field, value: unknown): boolean {
  // Object.is, since -0 and NaN are not the default 0 and proto3 writes them.
  return value instanceof Uint8Array ? value.length === 0 : Object.is(value, scalarDefault(field));
}

const camelNames = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** A field by its proto name or its proto3 JSON (lowerCamelCase) name. */
function fieldByJsonKey(type: protobuf.Type, key: string): protobuf.Field | undefined {
  if (Object.hasOwn(type.fields, key)) return type.fields[key];
  let byCamel = camelNames.get(type);
  if (!byCamel) {
    byCamel = new Map(type.fieldsArray.map((f) => [f.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), f]));
    camelNames.set(type, byCamel);
  }
  return byCamel.get(key);
}

/** Converts JSON values to the same plain messages the text parser produces. */
class JsonReader {
  constructor(private readonly source: string) {}

  message(type: protobuf.Type, json: unknown, path: string): PlainMessage {
    if (!isObject(json)) return this.fail(path, `expected an object for message ${messageName(type)}, got ${jsonKind(json)}`);
    const message: PlainMessage = {};
    const oneofMembers = new Map<string, string>();
    for (const [key, value] of Object.entries(json)) {
      const at = path ? `${path}.${key}` : key;
      const field = fieldByJsonKey(type, key);
      if (!field) return this.fail(at, `unknown field '${key}' in message ${messageName(type)}`);
      // proto3 JSON reads null as "not set".
      if (value === null) continue;
      if (Object.hasOwn(message, field.name)) this.fail(at, `field '${field.name}' is given twice`);
      if (field.partOf) {
        const other = oneofMembers.get(field.partOf.name);
        if (other) this.fail(at, `cannot be set together with '${other}', both are in oneof '${field.partOf.name}'`);
        oneofMembers.set(field.partOf.name, field.name);
      }
      message[field.name] = this.field(field, value, at);
    }
    return message;
  }

  private field(field: protobuf.Field, json: unknown, path: string): unknown {
    if (field instanceof protobuf.MapField) {
      if (!isObject(json)) return this.fail(path, `expected an object for map field '${field.name}', got ${jsonKind(json)}`);
      const { keyType } = field;
      return Object.fromEntries(
        Object.entries(json).map(([key, value]) => {
          const at = `${path}[${JSON.stringify(key)}]`;
          return [this.mapKey(keyType, key, at), this.value(field, value, at)];
        }),
      );
    }
    if (field.repeated) {
      if (!Array.isArray(json)) return this.fail(path, `expected an array for repeated field '${field.name}', got ${jsonKind(json)}`);
      return json.map((element, i) => this.value(field, element, `${path}[${i}]`));
    }
    return this.value(field, json, path);
  }

  private mapKey(keyType: string, key: string, path: string): string {
    if (keyType === 'bool') {
      if (key !== 'true' && key !== 'false') this.fail(path, `map key must be 'true' or 'false', got ${JSON.stringify(key)}`);
      return key;
    }
    if (!isIntegerType(keyType)) return key;
    return String(this.integer(keyType, /^-?\d+$/.test(key) ? BigInt(key) : undefined, key, path));
  }

  /** One value of `field`'s element type (a map's value type for map fields). */
  private value(field: protobuf.Field, json: unknown, path: string): unknown {
    const type = field.resolvedType;
    const wrongType = (): never => this.fail(path, `expects ${expectedJson(field)}, got ${jsonKind(json)}`);
    if (type instanceof protobuf.Type) return this.message(type, json, path);
    if (type instanceof protobuf.Enum) {
      if (typeof json === 'string') {
        if (Object.hasOwn(type.values, json)) return json;
        return this.fail(path, `'${json}' is not a value of enum ${type.name}`);
      }
      if (typeof json !== 'number' || !Number.isInteger(json)) return wrongType();
      return type.valuesById[json] ?? this.fail(path, `${json} is not a value of enum ${type.name}`);
    }
    switch (field.type) {
      case 'string':
        return typeof json === 'string' ? json : wrongType();
      case 'bytes':
        if (typeof json !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(json)) return wrongType();
        return new Uint8Array(Buffer.from(json, 'base64'));
      case 'bool':
        return typeof json === 'boolean' ? json : wrongType();
      case 'float':
      case 'double':
        if (typeof json === 'number') return json;
        if (typeof json === 'string' && json.trim() !== '' && !Number.isNaN(Number(json))) return Number(json);
        if (json === 'NaN') return NaN;
        return wrongType();
      default: {
        const exact = typeof json === 'number' && Number.isInteger(json) ? BigInt(json) : undefined;
        const parsed = typeof json === 'string' && /^-?\d+$/.test(json) ? BigInt(json) : exact;
        return this.integer(field.type, parsed, json, path);
      }
    }
  }

  private integer(fieldType: string, value: bigint | undefined, json: unknown, path: string): number {
    if (value === undefined) return this.fail(path, `expects ${fieldType}, got ${jsonKind(json)}`);
    const problem = integerProblem(fieldType, value);
    if (problem) this.fail(path, problem);
    return Number(value);
  }

  private fail(path: string, problem: string): never {
    throw new InferenceError('INVALID_ARG', path ? `${this.source}: ${path}: ${problem}` : `${this.source}: ${problem}`);
  }
}

function isObject(json: unknown): json is Record<string, unknown> {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

function expectedJson(field: protobuf.Field): string {
  if (field.resolvedType instanceof protobuf.Enum) return `a value of enum ${field.resolvedType.name}`;
  return field.type === 'bytes' ? 'a base64 string' : field.type;
}

function jsonKind(json: unknown): string {
  if (json === null) return 'null';
  if (Array.isArray(json)) return 'an array';
  if (typeof json === 'object') return 'an object';
  return `${typeof json} ${JSON.stringify(json)}`;
}
