/**
 * What an ensemble needs of its step models: that each is available, that its maps name
 * tensors the model has, that every required input is fed, that batching fits, and that
 * connected tensors agree on datatype and shape. Checked at load, and again whenever a
 * step model is loaded, reloaded or unloaded.
 */
import { datatypeFromConfig } from '../core/index.js';
import type { ModelConfig } from '../repository/index.js';
import { EnsembleConfigError, type EnsemblePlan, type PlannedStep } from './ensemble-plan.js';
import type { ModelResolver } from './model-resolver.js';

/** A tensor as one side of a connection declares it: full shape, batch dimension (-1) included. */
interface TensorEnd {
  /** `step 1 (model 'a') output 'X'`, `ensemble input 'x'`. */
  where: string;
  dataType: string;
  shape: number[];
}

const quoted = (names: Iterable<string>) => [...names].map((name) => `'${name}'`).join(', ');
const formatEnd = (end: TensorEnd) => `${datatypeFromConfig(end.dataType) ?? end.dataType} [${end.shape.join(',')}]`;

function fullShape(config: ModelConfig, dims: readonly number[]): number[] {
  return config.max_batch_size > 0 ? [-1, ...dims] : [...dims];
}

/** Equal ranks, and each dimension equal unless either side accepts any size. */
function shapesAgree(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === -1 || b[i] === -1 || d === b[i]);
}

function checkConnection(tensor: string, from: TensorEnd, to: TensorEnd): void {
  if (from.dataType !== to.dataType || !shapesAgree(from.shape, to.shape)) {
    throw new EnsembleConfigError(`tensor '${tensor}': ${from.where} is ${formatEnd(from)} but ${to.where} is ${formatEnd(to)}`);
  }
}

function stepModel(step: PlannedStep, resolve: ModelResolver): ModelConfig {
  try {
    return resolve(step.modelName, step.version).config;
  } catch (err) {
    const version = step.version ? ` version ${step.version}` : '';
    throw new EnsembleConfigError(`${step.label}: model '${step.modelName}'${version} is not available: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Throws EnsembleConfigError naming the first way the step models do not fit the ensemble. */
export function checkSteps(ensemble: ModelConfig, plan: EnsemblePlan, resolve: ModelResolver): void {
  const configs = plan.steps.map((step) => stepModel(step, resolve));
  const ends = new Map<string, TensorEnd>();
  for (const input of ensemble.input) {
    ends.set(input.name, { where: `ensemble input '${input.name}'`, dataType: input.data_type, shape: fullShape(ensemble, input.dims) });
  }

  plan.steps.forEach((step, k) => {
    const model = configs[k];
    if (model.model_transaction_policy?.decoupled) {
      throw new EnsembleConfigError(
        `${step.label}: model '${step.modelName}' is decoupled (model_transaction_policy { decoupled: true }); ` +
          'Nereid runs ensemble steps that answer each request once, not decoupled ones',
      );
    }
    if (ensemble.max_batch_size > model.max_batch_size) {
      throw new EnsembleConfigError(
        model.max_batch_size === 0
          ? `${step.label}: the ensemble batches (max_batch_size ${ensemble.max_batch_size}) but model '${step.modelName}' does not (max_batch_size 0)`
          : `${step.label}: the ensemble allows batches of ${ensemble.max_batch_size} but model '${step.modelName}' only of ${model.max_batch_size}`,
      );
    }
    const inputs = new Map(model.input.map((input) => [input.name, input]));
    for (const { modelTensor } of step.inputs) {
      if (!inputs.has(modelTensor)) {
        throw new EnsembleConfigError(`${step.label}: input_map names input '${modelTensor}', which model '${step.modelName}' does not have (its inputs: ${quoted(inputs.keys())})`);
      }
    }
    const fed = new Set(step.inputs.map((b) => b.modelTensor));
    const unfed = model.input.find((input) => !input.optional && !fed.has(input.name));
    if (unfed) throw new EnsembleConfigError(`${step.label}: model '${step.modelName}' requires input '${unfed.name}', which input_map does not feed`);
    const outputs = new Map(model.output.map((output) => [output.name, output]));
    for (const { modelTensor, ensembleTensor } of step.outputs) {
      const output = outputs.get(modelTensor);
      if (!output) {
        throw new EnsembleConfigError(`${step.label}: output_map names output '${modelTensor}', which model '${step.modelName}' does not have (its outputs: ${quoted(outputs.keys())})`);
      }
      ends.set(ensembleTensor, { where: `${step.label} output '${modelTensor}'`, dataType: output.data_type, shape: fullShape(model, output.dims) });
    }
  });

  plan.steps.forEach((step, k) => {
    const model = configs[k];
    for (const { modelTensor, ensembleTensor } of step.inputs) {
      const input = model.input.find((i) => i.name === modelTensor)!;
      checkConnection(ensembleTensor, ends.get(ensembleTensor)!, {
        where: `${step.label} input '${modelTensor}'`,
        dataType: input.data_type,
        shape: fullShape(model, input.dims),
      });
    }
  });
  for (const output of ensemble.output) {
    checkConnection(output.name, ends.get(output.name)!, {
      where: `ensemble output '${output.name}'`,
      dataType: output.data_type,
      shape: fullShape(ensemble, output.dims),
    });
  }
}
