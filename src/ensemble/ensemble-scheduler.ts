import { performance } from 'node:perf_hooks';
import { InferenceError, type InferenceRequest, type InferenceResponse } from '../core/index.js';
import type { ModelStatistics } from '../metrics/index.js';
import type { ModelConfig } from '../repository/index.js';
import { prepareRequest, type ModelScheduler, type PreparedRequest } from '../scheduler/index.js';
import { planEnsemble, type EnsemblePlan } from './ensemble-plan.js';
import { routeFor, type EnsembleRoute } from './ensemble-route.js';
import { EnsembleRun, type RunContext } from './ensemble-run.js';
import { EnsembleStreamRun } from './ensemble-stream.js';
import type { ModelResolver } from './model-resolver.js';
import { checkSteps } from './step-checks.js';

export interface EnsembleContext {
  modelName: string;
  version: string;
  config: ModelConfig;
  statistics: ModelStatistics;
  /** How steps reach their models: each step request goes through that model's own scheduler. */
  resolve: ModelResolver;
}

const MS_TO_NS = 1e6;

/**
 * The scheduler of a `platform: "ensemble"` model. It has no queue and no instances of
 * its own: it checks each request against the ensemble's configuration and runs it
 * through the steps' schedulers (ensemble-run.ts).
 */
export class EnsembleScheduler implements ModelScheduler {
  readonly plan: EnsemblePlan;
  private readonly runContext: RunContext;
  private readonly routes = new Map<string, EnsembleRoute>();
  private inFlight = 0;
  private draining = false;
  /** Whether a step model is decoupled (as the step models are now): the ensemble then is too. */
  private decoupled = false;
  /** The ensemble's own model_transaction_policy, restored when no step is decoupled any more. */
  private readonly configuredPolicy: ModelConfig['model_transaction_policy'];
  private drained: (() => void) | undefined;

  /** Throws EnsembleConfigError when the configuration itself is wrong. */
  constructor(private readonly context: EnsembleContext) {
    this.plan = planEnsemble(context.config);
    this.runContext = { ...context, plan: this.plan };
    this.configuredPolicy = context.config.model_transaction_policy;
  }

  get pendingCount(): number {
    return this.inFlight;
  }

  /** Its requests wait in the queues of its steps' models, and are counted there. */
  get queuedCount(): number {
    return 0;
  }

  /** Why the step models, as they are loaded now, cannot serve this ensemble; undefined when they can. */
  stepProblem(): string | undefined {
    try {
      this.decoupled = checkSteps(this.context.config, this.plan, this.context.resolve);
      // As in Triton, an ensemble with a decoupled step is decoupled itself: its configuration says so to the frontends.
      const { config } = this.context;
      if (this.decoupled) config.model_transaction_policy = { ...this.configuredPolicy, decoupled: true };
      else if (this.configuredPolicy) config.model_transaction_policy = this.configuredPolicy;
      else delete config.model_transaction_policy;
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  enqueue(request: InferenceRequest): Promise<InferenceResponse> {
    const arrivalMs = performance.now();
    const { modelName, version, config, statistics } = this.context;
    if (this.draining) return Promise.reject(new InferenceError('UNAVAILABLE', `model '${modelName}' version ${version} is unloading`));
    let prepared: PreparedRequest;
    try {
      prepared = prepareRequest(modelName, config, request);
    } catch (err) {
      statistics.recordFailure('OTHER', (performance.now() - arrivalMs) * MS_TO_NS);
      return Promise.reject(err);
    }
    const { onResponse } = request;
    if (this.decoupled && !onResponse) {
      statistics.recordFailure('OTHER', (performance.now() - arrivalMs) * MS_TO_NS);
      return Promise.reject(
        new InferenceError(
          'UNSUPPORTED',
          `model '${modelName}' version ${version} is an ensemble with a decoupled step, which answers with any number of responses: send its requests over a stream (gRPC ModelStreamInfer, HTTP generate_stream)`,
        ),
      );
    }
    this.inFlight++;
    const answer = new Promise<InferenceResponse>((resolve, reject) => {
      const route = this.routeFor(prepared.outputNames);
      if (this.decoupled) new EnsembleStreamRun(this.runContext, prepared, route, arrivalMs, onResponse!, resolve, reject).start();
      else new EnsembleRun(this.runContext, prepared, route, arrivalMs, resolve, reject).start();
    });
    const done = () => {
      this.inFlight--;
      if (this.draining && this.inFlight === 0) this.drained?.();
    };
    answer.then(done, done);
    return answer;
  }

  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /** Nothing waits here: a step model that cannot run answers its own queued requests. */
  failQueued(): void {}

  private routeFor(outputNames: readonly string[]): EnsembleRoute {
    // The route depends on which outputs are asked for, not on their order.
    const key = [...outputNames].sort().join('\n');
    let route = this.routes.get(key);
    if (!route) {
      route = routeFor(this.plan, outputNames);
      this.routes.set(key, route);
    }
    return route;
  }
}
