import type { RequestedOutput } from '../core/index.js';
import type { EnsemblePlan, PlannedStep } from './ensemble-plan.js';

/**
 * The part of an ensemble's graph that one set of requested outputs needs: a step
 * whose results nobody asked for, directly or through later steps, does not run.
 */
export interface EnsembleRoute {
  /** The steps to run, in configuration order. */
  steps: PlannedStep[];
  /** By step index: the outputs to ask that step's model for. */
  requestedOutputs: RequestedOutput[][];
  /** By step index: how many distinct tensors the step waits for from other steps. */
  waitsFor: number[];
  /**
   * How many times each tensor is handed on (to a step input, or in the answer). A
   * tensor handed on more than once goes to each step as a copy: a step may transfer
   * the buffer it is given to a worker thread, which would empty it for the others.
   */
  uses: Map<string, number>;
}

export function routeFor(plan: EnsemblePlan, outputNames: readonly string[]): EnsembleRoute {
  const needed = new Set<string>();
  const steps = new Set<PlannedStep>();
  const pending = [...outputNames];
  while (pending.length > 0) {
    const tensor = pending.pop()!;
    if (needed.has(tensor)) continue;
    needed.add(tensor);
    const producer = plan.producers.get(tensor);
    if (!producer || steps.has(producer)) continue;
    steps.add(producer);
    for (const { ensembleTensor } of producer.inputs) pending.push(ensembleTensor);
  }

  const ordered = plan.steps.filter((step) => steps.has(step));
  const requestedOutputs: RequestedOutput[][] = plan.steps.map(() => []);
  const waitsFor: number[] = plan.steps.map(() => 0);
  const uses = new Map<string, number>();
  const use = (tensor: string) => uses.set(tensor, (uses.get(tensor) ?? 0) + 1);
  for (const name of outputNames) use(name);
  for (const step of ordered) {
    requestedOutputs[step.index] = step.outputs.filter((b) => needed.has(b.ensembleTensor)).map((b) => ({ name: b.modelTensor }));
    const upstream = new Set<string>();
    for (const { ensembleTensor } of step.inputs) {
      use(ensembleTensor);
      if (plan.producers.get(ensembleTensor)) upstream.add(ensembleTensor);
    }
    waitsFor[step.index] = upstream.size;
  }
  return { steps: ordered, requestedOutputs, waitsFor, uses };
}
