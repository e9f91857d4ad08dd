/**
 * An ensemble's steps as a graph over its tensors, built from its configuration alone.
 * What the configuration itself gets wrong is refused here, once, at load: a tensor
 * produced twice, one consumed but never produced, an output that no step produces, a
 * cycle. What depends on the step models (that they exist, their tensor names, types and
 * shapes) is step-checks.ts's, checked again whenever a step model changes.
 */
import type { ModelConfig } from '../repository/index.js';

/** One entry of a step's input_map or output_map. */
export interface TensorBinding {
  /** The step model's input or output. */
  modelTensor: string;
  /** The ensemble tensor it reads or writes. */
  ensembleTensor: string;
}

export interface PlannedStep {
  /** Position in `ensemble_scheduling.step`, from 0. */
  index: number;
  /** `step 2 (model 'x')`, counting from 1 in configuration order, for messages. */
  label: string;
  modelName: string;
  /** The version the step asks for; undefined for the highest ready one (model_version -1). */
  version: string | undefined;
  inputs: TensorBinding[];
  outputs: TensorBinding[];
}

export interface EnsemblePlan {
  steps: PlannedStep[];
  /** The step that writes each ensemble tensor; undefined for an ensemble input. */
  producers: Map<string, PlannedStep | undefined>;
  /** The steps that read each ensemble tensor, each step once. */
  consumers: Map<string, PlannedStep[]>;
}

export class EnsembleConfigError extends Error {}

const quoted = (names: Iterable<string>) => [...names].map((name) => `'${name}'`).join(', ');

function bindings(map: Record<string, string>): TensorBinding[] {
  return Object.entries(map).map(([modelTensor, ensembleTensor]) => ({ modelTensor, ensembleTensor }));
}

/** A way round the cycle that the steps left over by a topological sort contain, for the message. */
function describeCycle(left: Set<PlannedStep>, producers: Map<string, PlannedStep | undefined>): string {
  const upstream = (step: PlannedStep) => {
    for (const { ensembleTensor } of step.inputs) {
      const producer = producers.get(ensembleTensor);
      if (producer && left.has(producer)) return { producer, tensor: ensembleTensor };
    }
    return undefined;
  };
  // Walking upstream from any step left over must come back to a step already seen.
  const path: Array<{ step: PlannedStep; tensor: string }> = [];
  const seen = new Map<PlannedStep, number>();
  let step = left.values().next().value as PlannedStep;
  while (!seen.has(step)) {
    seen.set(step, path.length);
    const next = upstream(step)!;
    path.push({ step, tensor: next.tensor });
    step = next.producer;
  }
  // path[k].step reads path[k].tensor from path[k + 1].step: print the loop in the direction data flows.
  const loop = path.slice(seen.get(step));
  let text = loop[0].step.label;
  for (let k = loop.length - 1; k >= 0; k--) text += ` → '${loop[k].tensor}' → ${loop[k].step.label}`;
  return text;
}

/** The graph of `config`'s steps; throws EnsembleConfigError naming the first problem found. */
export function planEnsemble(config: ModelConfig): EnsemblePlan {
  const configured = config.ensemble_scheduling?.step ?? [];
  if (configured.length === 0) throw new EnsembleConfigError('platform "ensemble" needs ensemble_scheduling with at least one step');
  if (config.input.length === 0 || config.output.length === 0) {
    throw new EnsembleConfigError('an ensemble must declare its inputs and outputs in its configuration');
  }

  const steps: PlannedStep[] = configured.map((step, index) => ({
    index,
    label: `step ${index + 1} (model '${step.model_name}')`,
    modelName: step.model_name,
    version: step.model_version > 0 ? String(step.model_version) : undefined,
    inputs: bindings(step.input_map),
    outputs: bindings(step.output_map),
  }));

  const producers = new Map<string, PlannedStep | undefined>();
  const producedBy = (step: PlannedStep | undefined) => (step ? step.label : 'the ensemble input of that name');
  for (const input of config.input) producers.set(input.name, undefined);
  for (const step of steps) {
    if (step.modelName === config.name) throw new EnsembleConfigError(`${step.label} uses the ensemble itself, which would be a cycle`);
    if (step.outputs.length === 0) throw new EnsembleConfigError(`${step.label} has an empty output_map: nothing would use what it computes`);
    for (const { ensembleTensor, modelTensor } of step.outputs) {
      if (producers.has(ensembleTensor)) {
        throw new EnsembleConfigError(
          `tensor '${ensembleTensor}' is produced twice: by ${producedBy(producers.get(ensembleTensor))} and by ${step.label} output '${modelTensor}'`,
        );
      }
      producers.set(ensembleTensor, step);
    }
  }

  const consumers = new Map<string, PlannedStep[]>();
  for (const step of steps) {
    for (const { ensembleTensor, modelTensor } of step.inputs) {
      if (!producers.has(ensembleTensor)) {
        throw new EnsembleConfigError(
          `${step.label} input '${modelTensor}' reads tensor '${ensembleTensor}', which no step produces and which is not an ensemble input (ensemble inputs: ${quoted(config.input.map((i) => i.name))})`,
        );
      }
      const readers = consumers.get(ensembleTensor) ?? [];
      if (!readers.includes(step)) readers.push(step);
      consumers.set(ensembleTensor, readers);
    }
  }

  for (const output of config.output) {
    if (!producers.get(output.name)) {
      throw new EnsembleConfigError(`ensemble output '${output.name}' is not produced by any step (no output_map writes '${output.name}')`);
    }
  }

  // Kahn's sort: whatever cannot be ordered waits on itself.
  const waiting = new Map(steps.map((step) => [step, new Set(step.inputs.map((b) => producers.get(b.ensembleTensor)).filter((p) => p !== undefined)).size]));
  const ready = steps.filter((step) => waiting.get(step) === 0);
  const left = new Set(steps);
  while (ready.length > 0) {
    const step = ready.pop()!;
    left.delete(step);
    const downstream = new Set(step.outputs.flatMap((b) => consumers.get(b.ensembleTensor) ?? []));
    for (const reader of downstream) {
      const count = waiting.get(reader)! - 1;
      waiting.set(reader, count);
      if (count === 0) ready.push(reader);
    }
  }
  if (left.size > 0) throw new EnsembleConfigError(`the steps form a cycle: ${describeCycle(left, producers)}`);

  return { steps, producers, consumers };
}
