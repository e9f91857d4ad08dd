/**
 * One request through an ensemble: each step is sent to its model's own scheduler as
 * soon as the tensors it reads exist, so independent branches run at once and the
 * steps of concurrent requests batch together at every model. The first failure
 * answers the request, names the step, and withdraws the steps still queued for it.
 */
import { performance } from 'node:perf_hooks';
import {
  Cancellation,
  copyTensorData,
  InferenceError,
  toInferenceError,
  type InferenceRequest,
  type InferenceResponse,
  type RequestTrace,
  type ScheduledTimes,
  type Tensor,
} from '../core/index.js';
import type { ComputeDurations, FailureReason, ModelStatistics } from '../metrics/index.js';
import type { PreparedRequest } from '../scheduler/index.js';
import type { EnsemblePlan, PlannedStep } from './ensemble-plan.js';
import type { EnsembleRoute } from './ensemble-route.js';
import type { ModelResolver } from './model-resolver.js';

export interface RunContext {
  modelName: string;
  version: string;
  plan: EnsemblePlan;
  resolve: ModelResolver;
  statistics: ModelStatistics;
}

const MS_TO_NS = 1e6;

function failureReason(error: InferenceError): FailureReason {
  if (error.code === 'CANCELLED') return 'CANCELED';
  if (error.code === 'INTERNAL') return 'BACKEND';
  return 'OTHER';
}

/** A copy that owns its own buffer. */
function copyOf(tensor: Tensor): Tensor['data'] {
  return copyTensorData(tensor.data);
}

export class EnsembleRun {
  private readonly tensors = new Map<string, Tensor>();
  private readonly waiting: number[];
  private outputsLeft: number;
  private settled = false;
  /** Given to every step request: cancelled when the client goes away or a step fails. */
  private readonly steps = new Cancellation();
  /** The steps' queue and compute times, added up: Triton reports an ensemble's as its steps' sum. */
  private queueNs = 0;
  private readonly compute: ComputeDurations = { inputNs: 0, inferNs: 0, outputNs: 0 };
  private computeStartMs: number | undefined;
  private readonly stepTimes: RequestTrace = { complete: (times) => this.addStepTimes(times) };
  private readonly onClientCancel = () => this.fail(new InferenceError('CANCELLED', `request to model '${this.context.modelName}' was cancelled by the client`));

  constructor(
    private readonly context: RunContext,
    private readonly prepared: PreparedRequest,
    private readonly route: EnsembleRoute,
    private readonly arrivalMs: number,
    private readonly resolveAnswer: (response: InferenceResponse) => void,
    private readonly rejectAnswer: (error: InferenceError) => void,
  ) {
    this.waiting = [...route.waitsFor];
    this.outputsLeft = prepared.outputNames.length;
  }

  start(): void {
    for (const input of this.prepared.inputs) this.tensors.set(input.name, input);
    this.prepared.request.cancellation?.subscribe(this.onClientCancel);
    for (const step of this.route.steps) {
      if (this.settled) return;
      if (this.waiting[step.index] === 0) this.launch(step);
    }
  }

  private launch(step: PlannedStep): void {
    if (this.settled) return;
    const { request } = this.prepared;
    const inputs: Tensor[] = [];
    for (const { modelTensor, ensembleTensor } of step.inputs) {
      const tensor = this.tensors.get(ensembleTensor);
      // An optional ensemble input the client left out is left out of the step too.
      if (!tensor) continue;
      const data = this.route.uses.get(ensembleTensor)! > 1 ? copyOf(tensor) : tensor.data;
      inputs.push({ name: modelTensor, datatype: tensor.datatype, shape: tensor.shape, data });
    }
    const stepRequest: InferenceRequest = {
      model: step.modelName,
      inputs,
      outputs: this.route.requestedOutputs[step.index],
      cancellation: this.steps,
      trace: this.stepTimes,
    };
    if (step.version !== undefined) stepRequest.version = step.version;
    if (request.id !== undefined) stepRequest.id = request.id;
    if (request.parameters) stepRequest.parameters = request.parameters;
    let answer: Promise<InferenceResponse>;
    try {
      answer = this.context.resolve(step.modelName, step.version).scheduler.enqueue(stepRequest);
    } catch (err) {
      return this.stepFailed(step, err);
    }
    answer.then(
      (response) => this.stepDone(step, response),
      (err: unknown) => this.stepFailed(step, err),
    );
  }

  private stepDone(step: PlannedStep, response: InferenceResponse): void {
    if (this.settled) return;
    const produced: string[] = [];
    for (const { name } of this.route.requestedOutputs[step.index]) {
      const output = response.outputs.find((o) => o.name === name);
      // Without it the steps after this one would wait forever.
      if (!output) return this.stepFailed(step, new InferenceError('INTERNAL', `model '${step.modelName}' answered without output '${name}'`));
      const ensembleTensor = step.outputs.find((b) => b.modelTensor === name)!.ensembleTensor;
      this.tensors.set(ensembleTensor, { ...output, name: ensembleTensor });
      produced.push(ensembleTensor);
    }
    for (const tensor of produced) {
      if (this.prepared.outputNames.includes(tensor)) this.outputsLeft--;
      for (const reader of this.context.plan.consumers.get(tensor) ?? []) {
        if (this.route.requestedOutputs[reader.index].length === 0) continue;
        if (--this.waiting[reader.index] === 0) this.launch(reader);
      }
    }
    if (this.outputsLeft === 0) this.succeed();
  }

  private stepFailed(step: PlannedStep, err: unknown): void {
    const cause = toInferenceError(err);
    this.fail(new InferenceError(cause.code, `ensemble '${this.context.modelName}' ${step.label}: ${cause.message}`));
  }

  private addStepTimes(times: ScheduledTimes): void {
    this.queueNs += ((times.computeStartMs ?? times.requestEndMs) - times.queueStartMs) * MS_TO_NS;
    if (times.computeStartMs !== undefined) this.computeStartMs = Math.min(this.computeStartMs ?? Infinity, times.computeStartMs);
    if (!times.compute) return;
    this.compute.inputNs += times.compute.inputNs;
    this.compute.inferNs += times.compute.inferNs;
    this.compute.outputNs += times.compute.outputNs;
  }

  private succeed(): void {
    const { request, outputNames, batchSize } = this.prepared;
    const response: InferenceResponse = {
      model: this.context.modelName,
      version: this.context.version,
      outputs: outputNames.map((name) => this.tensors.get(name)!),
    };
    if (request.id !== undefined) response.id = request.id;
    const endMs = this.settle();
    this.context.statistics.recordSuccess(batchSize, (endMs - this.arrivalMs) * MS_TO_NS, this.queueNs, this.compute);
    this.traceRequest(endMs);
    this.resolveAnswer(response);
  }

  private fail(error: InferenceError): void {
    if (this.settled) return;
    const endMs = this.settle();
    // Steps still queued for this request are withdrawn; those executing finish unused.
    this.steps.cancel();
    this.context.statistics.recordFailure(failureReason(error), (endMs - this.arrivalMs) * MS_TO_NS);
    this.traceRequest(endMs);
    this.rejectAnswer(error);
  }

  private settle(): number {
    this.settled = true;
    this.prepared.request.cancellation?.unsubscribe(this.onClientCancel);
    return performance.now();
  }

  private traceRequest(endMs: number): void {
    const { trace } = this.prepared.request;
    if (!trace) return;
    const times: ScheduledTimes = { version: this.context.version, queueStartMs: this.arrivalMs, requestEndMs: endMs };
    if (this.computeStartMs !== undefined) {
      times.computeStartMs = this.computeStartMs;
      times.compute = { ...this.compute };
    }
    trace.complete(times);
  }
}
