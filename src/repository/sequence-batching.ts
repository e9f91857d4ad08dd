import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { allocateTensorData, byteSize, datatypeFromConfig, elementCount, tensorDataFromBytes, type Datatype, type TensorData } from '../core/index.js';
import type { ModelSignature } from '../backends/index.js';
import type { DataType, ModelConfig, ModelSequenceBatching, ModelSequenceControlKind } from './model-config.js';

/** Where Triton looks for initial_state data files: this folder of the model's folder. */
export const INITIAL_STATE_FOLDER = 'initial_state';

/** Triton's default when max_sequence_idle_microseconds is 0 or absent: one second. */
export const DEFAULT_SEQUENCE_IDLE_MICROSECONDS = 1_000_000;

/** A control input as the sequence batcher fills it: which flag, and as what values. */
export interface SequenceControl {
  inputName: string;
  kind: ModelSequenceControlKind;
  datatype: Datatype;
  /** The false and true values of a START/END/READY flag (0/1 for BOOL); unused for CORRID. */
  falseTrue: [number, number];
}

/** One implicit state, resolved against the model file. */
export interface SequenceStateSpec {
  inputName: string;
  outputName: string;
  datatype: Datatype;
  /** Shape of one sequence's state, with a 1 at `batchAxis` for a batching model. */
  shape: number[];
  /** The axis along which the states of a batch's sequences are stacked (0 unless the model file puts its batch dimension elsewhere). */
  batchAxis: number;
  /** One sequence's state at its start (zeros unless initial_state says otherwise). */
  initial: TensorData;
}

const CORRID_TYPES: readonly DataType[] = ['TYPE_UINT64', 'TYPE_INT64', 'TYPE_UINT32', 'TYPE_INT32', 'TYPE_STRING'];

/** Names of the inputs that the sequence batcher feeds: control inputs and state inputs. */
export function sequenceFedInputs(config: ModelConfig): Set<string> {
  const batching = config.sequence_batching;
  if (!batching) return new Set();
  return new Set([...batching.control_input.map((c) => c.name), ...batching.state.map((s) => s.input_name)]);
}

/** The control inputs of a sequence_batching block, checked as Triton checks them when it loads the model. */
export function sequenceControls(config: ModelConfig): SequenceControl[] {
  const batching = config.sequence_batching;
  if (!batching) return [];
  const name = config.name;
  const seen = new Map<ModelSequenceControlKind, string>();
  const inputNames = new Set(config.input.map((i) => i.name));
  return batching.control_input.map((input) => {
    if (!input.name) throw new Error(`sequence batching control input must have a name for ${name}`);
    if (inputNames.has(input.name)) {
      throw new Error(`sequence batching control input '${input.name}' of ${name} is also listed as a model input; list it only under control_input`);
    }
    if (input.control.length !== 1) {
      throw new Error(`sequence batching control input '${input.name}' of ${name} must have exactly one control, it has ${input.control.length}`);
    }
    const [control] = input.control;
    const earlier = seen.get(control.kind);
    if (earlier !== undefined) {
      throw new Error(`sequence batching specifies multiple ${control.kind} tensors for ${name}: '${earlier}' and '${input.name}'`);
    }
    seen.set(control.kind, input.name);
    if (control.kind === 'CONTROL_SEQUENCE_CORRID') {
      if (!CORRID_TYPES.includes(control.data_type)) {
        throw new Error(
          `sequence batching control input '${input.name}' of ${name}: CONTROL_SEQUENCE_CORRID needs data_type TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 or TYPE_STRING, got ${control.data_type}`,
        );
      }
      return { inputName: input.name, kind: control.kind, datatype: datatypeFromConfig(control.data_type)!, falseTrue: [0, 1] };
    }
    const given = [
      control.int32_false_true.length > 0 && 'int32_false_true',
      control.fp32_false_true.length > 0 && 'fp32_false_true',
      control.bool_false_true.length > 0 && 'bool_false_true',
    ].filter(Boolean);
    if (given.length !== 1) {
      throw new Error(
        `sequence batching control input '${input.name}' of ${name} (${control.kind}) must set exactly one of int32_false_true, fp32_false_true or bool_false_true`,
      );
    }
    const values: readonly (number | boolean)[] =
      control.int32_false_true.length > 0 ? control.int32_false_true : control.fp32_false_true.length > 0 ? control.fp32_false_true : control.bool_false_true;
    if (values.length !== 2) {
      throw new Error(`sequence batching control input '${input.name}' of ${name}: ${given[0]} must have exactly 2 entries (false, true), got ${values.length}`);
    }
    const datatype: Datatype = control.int32_false_true.length > 0 ? 'INT32' : control.fp32_false_true.length > 0 ? 'FP32' : 'BOOL';
    return { inputName: input.name, kind: control.kind, datatype, falseTrue: [Number(values[0]), Number(values[1])] };
  });
}

/**
 * Checks a config's sequence_batching and fills what Triton fills: the idle timeout's
 * default, the direct strategy when none is named, the oldest strategy's candidate
 * count and preferred sizes. Returns a new config.
 */
export function normalizeSequenceBatching(config: ModelConfig): ModelConfig {
  const batching = config.sequence_batching;
  if (!batching) return config;
  const name = config.name;
  sequenceControls(config);
  const normalized: ModelSequenceBatching = { ...batching };
  if (normalized.max_sequence_idle_microseconds === 0) normalized.max_sequence_idle_microseconds = DEFAULT_SEQUENCE_IDLE_MICROSECONDS;
  if (!normalized.direct && !normalized.oldest) normalized.direct = { max_queue_delay_microseconds: 0, minimum_slot_utilization: 0 };
  if (normalized.oldest) {
    const oldest = { ...normalized.oldest };
    for (const size of oldest.preferred_batch_size) {
      if (size <= 0) throw new Error(`sequence batching preferred size must be positive for ${name}`);
      if (size > Math.max(1, config.max_batch_size)) throw new Error(`sequence batching preferred size must be <= max batch size for ${name}`);
    }
    if (oldest.max_candidate_sequences === 0) oldest.max_candidate_sequences = Math.max(1, config.max_batch_size);
    normalized.oldest = oldest;
  }
  const utilization = normalized.direct?.minimum_slot_utilization ?? 0;
  if (utilization < 0 || utilization > 1) throw new Error(`sequence batching minimum_slot_utilization must be in [0, 1] for ${name}`);
  const stateNames = new Set<string>();
  for (const state of batching.state) {
    if (!state.input_name || !state.output_name) throw new Error(`sequence batching state of ${name} must set both input_name and output_name`);
    if (stateNames.has(state.input_name)) throw new Error(`sequence batching state input '${state.input_name}' of ${name} appears more than once`);
    stateNames.add(state.input_name);
    if (!datatypeFromConfig(state.data_type)) throw new Error(`sequence batching state '${state.input_name}' of ${name} has data_type ${state.data_type}`);
    if (config.input.some((i) => i.name === state.input_name)) {
      throw new Error(`sequence batching state input '${state.input_name}' of ${name} is also listed as a model input; list it only under state`);
    }
    // A state output may also be listed under `output`: clients can then request it (Triton allows it for debugging).
    const listed = config.output.find((o) => o.name === state.output_name);
    if (listed && listed.data_type !== state.data_type) {
      throw new Error(
        `sequence batching state output '${state.output_name}' of ${name} is listed as a model output with data_type ${listed.data_type}, but its state has data_type ${state.data_type}`,
      );
    }
    if (state.initial_state.length > 1) throw new Error(`sequence batching state '${state.input_name}' of ${name} may have at most one initial_state`);
  }
  return { ...config, sequence_batching: normalized };
}

/**
 * Where the model file puts the batch dimension of a state: the first axis at which a
 * dynamic dimension, inserted into the configured dims, gives the file's shape. Triton
 * always stacks states along the first axis; a recurrent model exported with its batch
 * inside (h of shape [2, batch, 64]) is served as it is, without re-exporting it.
 */
function stateBatchAxis(dims: readonly number[], modelShape: readonly number[] | undefined): number {
  if (!modelShape || modelShape.length !== dims.length + 1) return 0;
  for (let axis = 0; axis <= dims.length; axis++) {
    if (modelShape[axis] !== -1) continue;
    const rest = [...modelShape.slice(0, axis), ...modelShape.slice(axis + 1)];
    if (rest.every((d, i) => d === -1 || dims[i] === -1 || d === dims[i])) return axis;
  }
  return 0;
}

/** The implicit states of a sequence model, each with its batch axis and initial value. */
export function resolveSequenceStates(config: ModelConfig, signature: ModelSignature, modelDir?: string): SequenceStateSpec[] {
  const batching = config.sequence_batching;
  if (!batching) return [];
  const name = config.name;
  const inputs = new Map(signature.inputs.map((t) => [t.name, t]));
  const outputs = new Set(signature.outputs.map((t) => t.name));
  return batching.state.map((state) => {
    const model = inputs.get(state.input_name);
    if (!model) throw new Error(`model '${name}': state input '${state.input_name}' is not an input of the model file`);
    if (!outputs.has(state.output_name)) throw new Error(`model '${name}': state output '${state.output_name}' is not an output of the model file`);
    const datatype = datatypeFromConfig(state.data_type)!;
    if (model.datatype !== datatype) {
      throw new Error(`model '${name}': state '${state.input_name}' has data_type ${state.data_type} but the model file's input is ${model.nativeType}`);
    }
    const initial = state.initial_state[0];
    const dims = initial && initial.dims.length > 0 ? initial.dims : state.dims;
    if (dims.some((d) => d < 0)) {
      throw new Error(`model '${name}': state '${state.input_name}' has dims [${dims.join(',')}]; give fixed dims (or an initial_state with fixed dims)`);
    }
    const batched = config.max_batch_size > 0;
    const batchAxis = batched ? stateBatchAxis(state.dims, model.shape) : 0;
    const shape = batched ? [...dims.slice(0, batchAxis), 1, ...dims.slice(batchAxis)] : [...dims];
    const data = initial?.data_file
      ? initialStateFromFile(name, state.input_name, datatype, shape, modelDir, initial.data_file)
      : zeroData(datatype, elementCount(shape));
    return { inputName: state.input_name, outputName: state.output_name, datatype, shape, batchAxis, initial: data };
  });
}

/**
 * `initial_state { data_file }`, as Triton reads it: the file `initial_state/<data_file>`
 * of the model's folder, the state's elements in row-major order as raw little-endian
 * bytes (BYTES: each element as a 4-byte length and its bytes). As in Triton, a file
 * longer than the state is read up to the state's size, a shorter one is refused.
 */
function initialStateFromFile(model: string, input: string, datatype: Datatype, shape: number[], modelDir: string | undefined, dataFile: string): TensorData {
  const where = `model '${model}': state '${input}': initial_state data_file '${dataFile}'`;
  if (modelDir === undefined) throw new Error(`${where}: the model has no folder to read it from`);
  const folder = join(modelDir, INITIAL_STATE_FOLDER);
  const path = resolve(folder, dataFile);
  if (relative(folder, path).startsWith('..') || isAbsolute(relative(folder, path))) {
    throw new Error(`${where} must name a file inside the model's '${INITIAL_STATE_FOLDER}' folder`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${where}: cannot read ${path}: ${(err as Error).message}`);
  }
  const count = elementCount(shape);
  if (datatype !== 'BYTES') {
    const needed = count * byteSize(datatype);
    if (bytes.byteLength < needed) {
      throw new Error(
        `${where}: initial_state setting expects ${needed} bytes (${count} ${datatype} values for shape [${shape.join(',')}]), but ${path} only has ${bytes.byteLength} bytes`,
      );
    }
    bytes = bytes.subarray(0, needed);
  }
  try {
    return tensorDataFromBytes(`${where} (${path})`, datatype, shape, bytes);
  } catch (err) {
    throw new Error((err as Error).message);
  }
}

/** Zeros; for BYTES, empty elements. */
function zeroData(datatype: Datatype, length: number): TensorData {
  return allocateTensorData(datatype, length);
}
