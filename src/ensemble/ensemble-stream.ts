/**
 * One request through an ensemble with a decoupled step, as Triton runs it: every response
 * of the decoupled step goes on through the steps after it as a branch of its own, and
 * every branch that completes the requested outputs is one response of the ensemble to
 * its client. The request ends with the final flag once no step is left running; the
 * first failure ends it with that error, naming the step, and withdraws the steps queued.
 */
import { performance } from 'node:perf_hooks';
import { Cancellation, copyTensorData, InferenceError, type InferenceResponse, type StreamedResponse } from '../core/index.js';
import type { PreparedRequest } from '../scheduler/index.js';
import type { PlannedStep } from './ensemble-plan.js';
import type { EnsembleRoute } from './ensemble-route.js';
import type { RunContext } from './ensemble-run.js';
import { cancelledByClient, failureReason, firstSteps, startingProgress, stepError, stepRequest, takeStepAnswer, type StepProgress } from './ensemble-step.js';

const MS_TO_NS = 1e6;

/** The tensors one branch has, and what it still waits for. */
type Branch = StepProgress;

const fork = (branch: Branch): Branch => ({ tensors: new Map(branch.tensors), waiting: [...branch.waiting], outputsLeft: branch.outputsLeft });

export class EnsembleStreamRun {
  /** Step requests sent and not yet over (a decoupled step's is over at its final flag). */
  private active = 0;
  private settled = false;
  private readonly steps = new Cancellation();
  private readonly onClientCancel = () => this.fail(cancelledByClient(this.context.modelName));

  constructor(
    private readonly context: RunContext,
    private readonly prepared: PreparedRequest,
    private readonly route: EnsembleRoute,
    private readonly arrivalMs: number,
    /** The ensemble's client, which receives each response and the final flag. */
    private readonly onResponse: (part: StreamedResponse) => void,
    private readonly resolveAnswer: (response: InferenceResponse) => void,
    private readonly rejectAnswer: (error: InferenceError) => void,
  ) {}

  start(): void {
    const root: Branch = startingProgress(this.route, this.prepared);
    this.prepared.request.cancellation?.subscribe(this.onClientCancel);
    // launch() does nothing once the request is settled (a step that failed at once).
    for (const step of firstSteps(this.route, root)) this.launch(step, root);
    this.finishIfIdle();
  }

  private launch(step: PlannedStep, branch: Branch): void {
    if (this.settled) return;
    // Branches share their tensors, and a step may hand its inputs' buffers to a worker thread.
    const request = stepRequest(step, this.route, branch.tensors, this.prepared.request, this.steps, (tensor) => copyTensorData(tensor.data));
    this.active++;
    let answer: Promise<InferenceResponse>;
    try {
      const model = this.context.resolve(step.modelName, step.version);
      const decoupled = model.config.model_transaction_policy?.decoupled === true;
      if (decoupled) request.onResponse = (part) => this.stepPart(step, branch, part);
      answer = model.scheduler.enqueue(request);
      answer.then(
        (response) => {
          if (!decoupled) this.produce(step, response, branch);
          this.stepOver();
        },
        (err: unknown) => this.stepFailed(step, err),
      );
    } catch (err) {
      this.stepFailed(step, err);
    }
  }

  /** One message of a decoupled step: each response starts a branch of its own. */
  private stepPart(step: PlannedStep, branch: Branch, part: StreamedResponse): void {
    if (this.settled) return;
    if (part.error) return this.stepFailed(step, part.error);
    if (part.response) this.produce(step, part.response, fork(branch));
  }

  private produce(step: PlannedStep, response: InferenceResponse, branch: Branch): void {
    if (this.settled) return;
    const ready = takeStepAnswer(step, response, branch, this.context.plan, this.route, this.prepared.outputNames);
    if (ready instanceof InferenceError) return this.stepFailed(step, ready);
    for (const reader of ready) this.launch(reader, branch);
    if (branch.outputsLeft === 0 && !this.settled) this.respond(branch);
  }

  private respond(branch: Branch): void {
    const { request, outputNames } = this.prepared;
    const response: InferenceResponse = {
      model: this.context.modelName,
      version: this.context.version,
      outputs: outputNames.map((name) => branch.tensors.get(name)!),
    };
    if (request.id !== undefined) response.id = request.id;
    this.onResponse({ response, final: false });
  }

  private stepOver(): void {
    this.active--;
    this.finishIfIdle();
  }

  private finishIfIdle(): void {
    if (this.active > 0 || this.settled) return;
    const endMs = this.settle();
    this.context.statistics.recordSuccess(this.prepared.batchSize, (endMs - this.arrivalMs) * MS_TO_NS, 0, { inputNs: 0, inferNs: 0, outputNs: 0 });
    this.onResponse({ final: true });
    const answer: InferenceResponse = { model: this.context.modelName, version: this.context.version, outputs: [] };
    if (this.prepared.request.id !== undefined) answer.id = this.prepared.request.id;
    this.resolveAnswer(answer);
  }

  private stepFailed(step: PlannedStep, err: unknown): void {
    this.fail(stepError(this.context.modelName, step, err));
  }

  private fail(error: InferenceError): void {
    if (this.settled) return;
    const endMs = this.settle();
    this.steps.cancel();
    this.context.statistics.recordFailure(failureReason(error), (endMs - this.arrivalMs) * MS_TO_NS);
    this.rejectAnswer(error);
  }

  private settle(): number {
    this.settled = true;
    this.prepared.request.cancellation?.unsubscribe(this.onClientCancel);
    const endMs = performance.now();
    this.prepared.request.trace?.complete({ version: this.context.version, queueStartMs: this.arrivalMs, requestEndMs: endMs });
    return endMs;
  }
}
