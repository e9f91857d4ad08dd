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

/** The steps that read, directly or through other steps, what `step` produces. */
function downstreamOf(plan: EnsemblePlan, step: PlannedStep): Set<PlannedStep> {
  const found = new Set<PlannedStep>();
  const pending = [step];
  while (pending.length > 0) {
    for (const { ensembleTensor } of pending.pop()!.outputs) {
      for (const reader of plan.consumers.get(ensembleTensor) ?? []) {
        if (!found.has(reader)) {
          found.add(reader);
          pending.push(reader);
        }
      }
    }
  }
  return found;
}

/** The steps whose results `step` reads, directly or through other steps. */
function upstreamOf(plan: EnsemblePlan, step: PlannedStep): Set<PlannedStep> {
  const found = new Set<PlannedStep>();
  const pending = [step];
  while (pending.length > 0) {
    for (const { ensembleTensor } of pending.pop()!.inputs) {
      const producer = plan.producers.get(ensembleTensor);
      if (producer && !found.has(producer)) {
        found.add(producer);
        pending.push(producer);
      }
    }
  }
  return found;
}

/**
 * Each response of a decoupled step goes on through the steps after it as a run of its
 * own, which sees what was computed before the decoupled step began and what its own
 * response leads to. A step after it that also reads a tensor of a parallel branch (nor
 * before, nor after it), or an ensemble output of such a branch beside outputs that
 * depend on the decoupled step, would have to pair responses with that branch: refused.
 */
function checkDecoupledStep(ensemble: ModelConfig, plan: EnsemblePlan, step: PlannedStep): void {
  const after = downstreamOf(plan, step);
  const before = upstreamOf(plan, step);
  const inRun = (producer: PlannedStep | undefined) => producer === undefined || producer === step || before.has(producer) || after.has(producer);
  for (const reader of after) {
    for (const { ensembleTensor, modelTensor } of reader.inputs) {
      const producer = plan.producers.get(ensembleTensor);
      if (!inRun(producer)) {
        throw new EnsembleConfigError(
          `${step.label} is decoupled, and ${reader.label}, which runs once per response of it, also reads tensor '${ensembleTensor}' (input '${modelTensor}') from ${producer!.label}, a parallel branch: ` +
            'Nereid runs the steps after a decoupled step only on what comes before it or from it',
        );
      }
    }
  }
  const producersOfOutputs = ensemble.output.map((output) => ({ name: output.name, producer: plan.producers.get(output.name) }));
  if (!producersOfOutputs.some(({ producer }) => producer === step || (producer !== undefined && after.has(producer)))) return;
  const apart = producersOfOutputs.find(({ producer }) => !inRun(producer));
  if (apart) {
    throw new EnsembleConfigError(
      `${step.label} is decoupled, so the ensemble answers once per response of it, but ensemble output '${apart.name}' comes from ${apart.producer!.label}, a parallel branch: ` +
        'every output of an ensemble with a decoupled step must come from before that step, from it, or from the steps after it',
    );
  }
}

/**
 * Throws EnsembleConfigError naming the first way the step models do not fit the ensemble.
 * Returns whether a step model is decoupled, which makes the ensemble decoupled too.
 */
export function checkSteps(ensemble: ModelConfig, plan: EnsemblePlan, resolve: ModelResolver): boolean {
  const configs = plan.steps.map((step) => stepModel(step, resolve));
  const ends = new Map<string, TensorEnd>();
  for (const input of ensemble.input) {
    ends.set(input.name, { where: `ensemble input '${input.name}'`, dataType: input.data_type, shape: fullShape(ensemble, input.dims) });
  }

  plan.steps.forEach((step, k) => {
    const model = configs[k];
    if (model.model_transaction_policy?.decoupled) checkDecoupledStep(ensemble, plan, step);
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
  return configs.some((model) => model.model_transaction_policy?.decoupled === true);
}
