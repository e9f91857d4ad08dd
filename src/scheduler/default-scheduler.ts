import { InferenceError, type InferenceRequest, type InferenceResponse } from '../core/index.js';
import type { ModelInstance } from '../backends/index.js';
import type { ModelConfig } from '../repository/model-config.js';
import type { InstancePool } from './instance-pool.js';
import { prepareRequest, restoreOutputShape, type PreparedRequest } from './request-validation.js';
import type { ModelScheduler } from './scheduler.js';

interface Job {
  prepared: PreparedRequest;
  resolve(response: InferenceResponse): void;
  reject(error: InferenceError): void;
  onCancel?: () => void;
}

/** Triton's default scheduler: each request runs alone on the next idle instance, in arrival order. */
export class DefaultScheduler implements ModelScheduler {
  private readonly queue: Job[] = [];
  private executing = 0;
  private draining = false;
  private drained: (() => void) | undefined;

  constructor(
    private readonly modelName: string,
    private readonly version: string,
    private readonly config: ModelConfig,
    private readonly pool: InstancePool,
  ) {}

  get pendingCount(): number {
    return this.queue.length + this.executing;
  }

  enqueue(request: InferenceRequest): Promise<InferenceResponse> {
    if (this.draining) {
      return Promise.reject(new InferenceError('UNAVAILABLE', `model '${this.modelName}' version ${this.version} is unloading`));
    }
    let prepared: PreparedRequest;
    try {
      prepared = prepareRequest(this.modelName, this.config, request);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<InferenceResponse>((resolve, reject) => {
      const job: Job = { prepared, resolve, reject };
      const { cancellation } = request;
      if (cancellation) {
        if (cancellation.cancelled) return reject(this.cancelled());
        job.onCancel = () => this.cancel(job);
        cancellation.subscribe(job.onCancel);
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  drain(): Promise<void> {
    this.draining = true;
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /** Fails everything still queued; called when no instance is left to run it. */
  failQueued(error: InferenceError): void {
    for (const job of this.queue.splice(0)) this.finish(job, undefined, error);
    this.checkDrained();
  }

  private cancelled(): InferenceError {
    return new InferenceError('CANCELLED', `request to model '${this.modelName}' was cancelled by the client`);
  }

  private cancel(job: Job): void {
    const at = this.queue.indexOf(job);
    if (at < 0) return;
    this.queue.splice(at, 1);
    job.reject(this.cancelled());
    this.checkDrained();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const instance = this.pool.acquire();
      if (!instance) return;
      const job = this.queue.shift()!;
      void this.run(instance, job);
    }
  }

  private async run(instance: ModelInstance, job: Job): Promise<void> {
    this.executing++;
    const { prepared } = job;
    try {
      const result = await instance.execute(prepared.inputs, prepared.outputNames);
      this.finish(job, {
        model: this.modelName,
        version: this.version,
        id: prepared.request.id,
        outputs: result.outputs.map((output) => restoreOutputShape(this.config, output, prepared.batchSize)),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.finish(job, undefined, new InferenceError('INTERNAL', `model '${this.modelName}' version ${this.version} failed: ${message}`));
    } finally {
      this.executing--;
      this.pool.release(instance);
      this.dispatch();
      this.checkDrained();
    }
  }

  private finish(job: Job, response: InferenceResponse | undefined, error?: InferenceError): void {
    if (job.onCancel) job.prepared.request.cancellation?.unsubscribe(job.onCancel);
    if (response) job.resolve(response);
    else job.reject(error!);
  }

  private checkDrained(): void {
    if (this.draining && this.pendingCount === 0 && this.drained) {
      this.drained();
      this.drained = undefined;
    }
  }
}
