/**
 * What a run of an ensemble does at each step, shared by the one-answer run
 * (ensemble-run.ts) and the streamed one (ensemble-stream.ts): build the step's request
 * from the tensors that exist, take its answer's tensors in, and name the step in errors.
 */
import {
  InferenceError,
  toInferenceError,
  type Cancellation,
  type InferenceRequest,
  type InferenceResponse,
  type Tensor,
} from '../core/index.js';
import type { FailureReason } from '../metrics/index.js';
import type { PreparedRequest } from '../scheduler/index.js';
import type { EnsemblePlan, PlannedStep } from './ensemble-plan.js';
import type { EnsembleRoute } from './ensemble-route.js';

export function failureReason(error: InferenceError): FailureReason {
  if (error.code === 'CANCELLED') return 'CANCELED';
  if (error.code === 'INTERNAL') return 'BACKEND';
  return 'OTHER';
}

/** The error that ends an ensemble request whose client went away. */
export function cancelledByClient(ensembleName: string): InferenceError {
  return new InferenceError('CANCELLED', `request to model '${ensembleName}' was cancelled by the client`);
}

/** A step's failure as the ensemble's client sees it: the step named before the cause. */
export function stepError(ensembleName: string, step: PlannedStep, err: unknown): InferenceError {
  const cause = toInferenceError(err);
  return new InferenceError(cause.code, `ensemble '${ensembleName}' ${step.label}: ${cause.message}`);
}

/**
 * The request for `step`, reading its inputs from `tensors`. An optional ensemble input
 * the client left out is left out of the step too. `dataFor` gives each input's data (the
 * tensor's own or a copy: a step may hand its inputs' buffers to a worker thread).
 */
export function stepRequest(
  step: PlannedStep,
  route: EnsembleRoute,
  tensors: ReadonlyMap<string, Tensor>,
  client: InferenceRequest,
  cancellation: Cancellation,
  dataFor: (tensor: Tensor, ensembleTensor: string) => Tensor['data'],
): InferenceRequest {
  const inputs: Tensor[] = [];
  for (const { modelTensor, ensembleTensor } of step.inputs) {
    const tensor = tensors.get(ensembleTensor);
    if (!tensor) continue;
    inputs.push({ name: modelTensor, datatype: tensor.datatype, shape: tensor.shape, data: dataFor(tensor, ensembleTensor) });
  }
  const request: InferenceRequest = { model: step.modelName, inputs, outputs: route.requestedOutputs[step.index], cancellation };
  if (step.version !== undefined) request.version = step.version;
  if (client.id !== undefined) request.id = client.id;
  if (client.parameters) request.parameters = client.parameters;
  return request;
}

/** The tensors that one request's steps have produced, and the steps still waiting for some. */
export interface StepProgress {
  readonly tensors: Map<string, Tensor>;
  /** By step index: distinct tensors the step still waits for. */
  readonly waiting: number[];
  /** Requested outputs not produced yet. */
  outputsLeft: number;
}

/** A request's progress before any step ran: the client's inputs, every step still waiting. */
export function startingProgress(route: EnsembleRoute, prepared: PreparedRequest): StepProgress {
  const progress: StepProgress = { tensors: new Map(), waiting: [...route.waitsFor], outputsLeft: prepared.outputNames.length };
  for (const input of prepared.inputs) progress.tensors.set(input.name, input);
  return progress;
}

/** The steps that wait for no other step's tensors, in configuration order. */
export function firstSteps(route: EnsembleRoute, progress: StepProgress): PlannedStep[] {
  return route.steps.filter((step) => progress.waiting[step.index] === 0);
}

/**
 * Takes `step`'s answer into `progress` and returns the steps it made ready (to launch),
 * or the error when the answer lacks an output the route asked for (without it the steps
 * after this one would wait forever).
 */
export function takeStepAnswer(
  step: PlannedStep,
  response: InferenceResponse,
  progress: StepProgress,
  plan: EnsemblePlan,
  route: EnsembleRoute,
  outputNames: readonly string[],
): PlannedStep[] | InferenceError {
  const produced: string[] = [];
  for (const { name } of route.requestedOutputs[step.index]) {
    const output = response.outputs.find((o) => o.name === name);
    if (!output) return new InferenceError('INTERNAL', `model '${step.modelName}' answered without output '${name}'`);
    const ensembleTensor = step.outputs.find((b) => b.modelTensor === name)!.ensembleTensor;
    progress.tensors.set(ensembleTensor, { ...output, name: ensembleTensor });
    produced.push(ensembleTensor);
  }
  const ready: PlannedStep[] = [];
  for (const tensor of produced) {
    if (outputNames.includes(tensor)) progress.outputsLeft--;
    for (const reader of plan.consumers.get(tensor) ?? []) {
      if (route.requestedOutputs[reader.index].length === 0) continue;
      if (--progress.waiting[reader.index] === 0) ready.push(reader);
    }
  }
  return ready;
}
