/**
 * One request through an ensemble: each step is sent to its model's own scheduler as
 * soon as the tensors it reads exist, so independent branches run at once and the
 * steps of concurrent requests batch together at every model. The first failure
 * answers the request, names the step, and withdraws the steps still queued for it.
 */
import { performance } from 'node:perf_hooks';
import { Cancellation, copyTensorData, InferenceError, type InferenceResponse, type RequestTrace, type ScheduledTimes } from '../core/index.js';
import type { ComputeDurations, ModelStatistics } from '../metrics/index.js';
import type { PreparedRequest } from '../scheduler/index.js';
import type { EnsemblePlan, PlannedStep } from './ensemble-plan.js';
import type { EnsembleRoute } from './ensemble-route.js';
import { cancelledByClient, failureReason, firstSteps, startingProgress, stepError, stepRequest, takeStepAnswer, type StepProgress } from './ensemble-step.js';
import type { ModelResolver } from './model-resolver.js';

export interface RunContext {
  modelName: string;
  version: string;
  plan: EnsemblePlan;
  resolve: ModelResolver;
  statistics: ModelStatistics;
}

const MS_TO_NS = 1e6;

export class EnsembleRun {
  private readonly progress: StepProgress;
  private settled = false;
  /** Given to every step request: cancelled when the client goes away or a step fails. */
  private readonly steps = new Cancellation();
  /** The steps' queue and compute times, added up: Triton reports an ensemble's as its steps' sum. */
  private queueNs = 0;
  private readonly compute: ComputeDurations = { inputNs: 0, inferNs: 0, outputNs: 0 };
  private computeStartMs: number | undefined;
  private readonly stepTimes: RequestTrace = { complete: (times) => this.addStepTimes(times) };
  private readonly onClientCancel = () => this.fail(cancelledByClient(this.context.modelName));

  constructor(
    private readonly context: RunContext,
    private readonly prepared: PreparedRequest,
    private readonly route: EnsembleRoute,
    private readonly arrivalMs: number,
    private readonly resolveAnswer: (response: InferenceResponse) => void,
    private readonly rejectAnswer: (error: InferenceError) => void,
  ) {
    this.progress = startingProgress(route, prepared);
  }

  start(): void {
    this.prepared.request.cancellation?.subscribe(this.onClientCancel);
    // launch() does nothing once the request is settled (a step that failed at once).
    for (const step of firstSteps(this.route, this.progress)) this.launch(step);
  }

  private launch(step: PlannedStep): void {
    if (this.settled) return;
    // A tensor handed on more than once goes to each step as a copy (see EnsembleRoute.uses).
    const request = stepRequest(step, this.route, this.progress.tensors, this.prepared.request, this.steps, (tensor, name) =>
      this.route.uses.get(name)! > 1 ? copyTensorData(tensor.data) : tensor.data,
    );
    request.trace = this.stepTimes;
    let answer: Promise<InferenceResponse>;
    try {
      answer = this.context.resolve(step.modelName, step.version).scheduler.enqueue(request);
    } catch (err) {
      return this.fail(stepError(this.context.modelName, step, err));
    }
    answer.then(
      (response) => this.stepDone(step, response),
      (err: unknown) => this.fail(stepError(this.context.modelName, step, err)),
    );
  }

  private stepDone(step: PlannedStep, response: InferenceResponse): void {
    if (this.settled) return;
    const ready = takeStepAnswer(step, response, this.progress, this.context.plan, this.route, this.prepared.outputNames);
    if (ready instanceof InferenceError) return this.fail(stepError(this.context.modelName, step, ready));
    for (const reader of ready) this.launch(reader);
    if (this.progress.outputsLeft === 0 && !this.settled) this.succeed();
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
      outputs: outputNames.map((name) => this.progress.tensors.get(name)!),
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
