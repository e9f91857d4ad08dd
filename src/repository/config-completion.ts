import { datatypeToConfig, type ConfigDatatype } from '../core/index.js';
import type { ModelSignature, TensorSignature } from '../backends/index.js';
import { completeModelConfig, type ModelConfig, type ModelInput, type ModelOutput } from './model-config.js';
import { sequenceControls, sequenceFedInputs } from './sequence-batching.js';

/** Triton's default for `--backend-config=default-max-batch-size` when it completes a config. */
const AUTOCOMPLETE_MAX_BATCH_SIZE = 4;

const formatShape = (shape: readonly number[]) => `[${shape.join(',')}]`;

function supportsBatching(signature: ModelSignature): boolean {
  const all = [...signature.inputs, ...signature.outputs];
  return all.length > 0 && all.every((t) => t.shape.length > 0 && t.shape[0] === -1);
}

function configDims(tensor: TensorSignature, batching: boolean): number[] {
  return batching ? tensor.shape.slice(1) : [...tensor.shape];
}

function completedType(tensor: TensorSignature, modelName: string): ConfigDatatype {
  if (!tensor.datatype) {
    throw new Error(`model '${modelName}': tensor '${tensor.name}' has type ${tensor.nativeType}, which Nereid cannot serve`);
  }
  return datatypeToConfig(tensor.datatype);
}

/**
 * Fills what the config leaves out from the model file, as Triton's ONNX Runtime
 * backend does: inputs, outputs and, for a model whose every tensor has a dynamic
 * first dimension, a max_batch_size. Returns a new config.
 */
export function autoCompleteConfig(config: ModelConfig, signature: ModelSignature, modelName: string): ModelConfig {
  const fromScratch = config.input.length === 0 && config.output.length === 0;
  const maxBatchSize =
    fromScratch && config.max_batch_size === 0 && supportsBatching(signature) ? AUTOCOMPLETE_MAX_BATCH_SIZE : config.max_batch_size;
  const describe = (t: TensorSignature) => ({ name: t.name, data_type: completedType(t, modelName), dims: configDims(t, maxBatchSize > 0) });
  // Control and state tensors belong to the sequence batcher, not to the client.
  const fedInputs = sequenceFedInputs(config);
  const stateOutputs = new Set(config.sequence_batching?.state.map((s) => s.output_name) ?? []);
  return completeModelConfig({
    ...config,
    max_batch_size: maxBatchSize,
    input: config.input.length > 0 ? config.input : signature.inputs.filter((t) => !fedInputs.has(t.name)).map(describe),
    output: config.output.length > 0 ? config.output : signature.outputs.filter((t) => !stateOutputs.has(t.name)).map(describe),
  });
}

function checkTensor(
  kind: 'input' | 'output',
  spec: ModelInput | ModelOutput,
  model: TensorSignature,
  batching: boolean,
  modelName: string,
): void {
  const expectedType = model.datatype ? datatypeToConfig(model.datatype) : model.nativeType;
  if (spec.data_type !== expectedType) {
    throw new Error(
      `model '${modelName}': unexpected datatype ${spec.data_type} for ${kind} '${spec.name}', the model file has ${expectedType}`,
    );
  }
  const dims = spec.reshape ? spec.reshape.shape : spec.dims;
  const configShape = batching ? [-1, ...dims] : dims;
  const compatible =
    model.shape.length === configShape.length &&
    model.shape.every((d, i) => d === -1 || configShape[i] === -1 || d === configShape[i]) &&
    (!batching || model.shape[0] === -1);
  if (!compatible) {
    const batchNote = batching ? ' (a batch dimension first, because max_batch_size > 0)' : '';
    throw new Error(
      `model '${modelName}': ${kind} '${spec.name}' has shape ${formatShape(model.shape)} in the model file but the configuration gives ${formatShape(configShape)}${batchNote}`,
    );
  }
}

/** The config must describe the model file: every input of the model, known outputs, matching types and shapes. */
export function validateAgainstModel(config: ModelConfig, signature: ModelSignature, modelName: string): void {
  const batching = config.max_batch_size > 0;
  const modelInputs = new Map(signature.inputs.map((t) => [t.name, t]));
  const modelOutputs = new Map(signature.outputs.map((t) => [t.name, t]));
  for (const input of config.input) {
    const model = modelInputs.get(input.name);
    if (!model) {
      throw new Error(`model '${modelName}': unexpected inference input '${input.name}', allowed inputs are: ${[...modelInputs.keys()].join(', ')}`);
    }
    checkTensor('input', input, model, batching, modelName);
  }
  for (const control of sequenceControls(config)) {
    const model = modelInputs.get(control.inputName);
    if (!model) {
      throw new Error(`model '${modelName}': sequence batching control input '${control.inputName}' is not an input of the model file, whose inputs are: ${[...modelInputs.keys()].join(', ')}`);
    }
    if (model.datatype !== control.datatype) {
      throw new Error(
        `model '${modelName}': sequence batching control input '${control.inputName}' (${control.kind}) gives ${control.datatype} values but the model file's input is ${model.nativeType}`,
      );
    }
  }
  for (const state of config.sequence_batching?.state ?? []) {
    if (!modelInputs.has(state.input_name)) {
      throw new Error(`model '${modelName}': sequence batching state input '${state.input_name}' is not an input of the model file, whose inputs are: ${[...modelInputs.keys()].join(', ')}`);
    }
    if (!modelOutputs.has(state.output_name)) {
      throw new Error(`model '${modelName}': sequence batching state output '${state.output_name}' is not an output of the model file, whose outputs are: ${[...modelOutputs.keys()].join(', ')}`);
    }
  }
  const configured = new Set([...config.input.map((i) => i.name), ...sequenceFedInputs(config)]);
  const unconfigured = [...modelInputs.keys()].filter((name) => !configured.has(name));
  if (unconfigured.length > 0) {
    throw new Error(`model '${modelName}': the model file has input(s) ${unconfigured.join(', ')} that the configuration does not list`);
  }
  for (const output of config.output) {
    const model = modelOutputs.get(output.name);
    if (!model) {
      throw new Error(`model '${modelName}': unexpected inference output '${output.name}', allowed outputs are: ${[...modelOutputs.keys()].join(', ')}`);
    }
    checkTensor('output', output, model, batching, modelName);
  }
}
