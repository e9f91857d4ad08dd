import type { Worker } from 'node:worker_threads';
import type { ExecutionBatch, ExecutionResult, ModelInstance, ModelSignature } from './backend.js';
import { startWorker } from '../core/index.js';
import { transferList, type WorkerCommand, type WorkerReply } from './worker-protocol.js';

/** How long close() lets a model finalize before the worker is terminated. */
const CLOSE_GRACE_MS = 5_000;

export interface WorkerInstanceOptions {
  /** `import.meta.url` of the module next to which the worker script lives. */
  callerUrl: string;
  /** The worker script's file name without extension. */
  moduleBaseName: string;
  workerData: unknown;
  instanceName: string;
  /** `'<model>' version <v>`, for messages. */
  modelLabel: string;
  /**
   * Whether the worker needs the per-request part of each batch; a backend that only
   * computes tensors saves the structured clone of it.
   */
  sendRequests: boolean;
}

interface Pending {
  resolve(result: ExecutionResult): void;
  reject(error: Error): void;
}

/**
 * Main-thread handle of a model instance that lives in its own worker thread, for any
 * backend whose worker speaks worker-protocol.ts (see worker-host.ts for the other side).
 */
export class WorkerInstance implements ModelInstance {
  private readonly pending = new Map<number, Pending>();
  private readonly failureListeners: Array<(error: Error) => void> = [];
  private nextId = 0;
  private closing = false;
  private onClosed: (() => void) | undefined;

  private constructor(
    readonly name: string,
    readonly signature: ModelSignature,
    private readonly worker: Worker,
    private readonly options: WorkerInstanceOptions,
  ) {
    worker.on('message', (reply: WorkerReply) => this.onReply(reply));
    worker.on('error', (err) => this.fail(new Error(`instance ${name} of model ${options.modelLabel} crashed: ${err.message}`)));
    worker.on('exit', (code) => {
      this.onClosed?.();
      if (!this.closing) this.fail(new Error(`instance ${name} of model ${options.modelLabel} exited unexpectedly (code ${code})`));
    });
  }

  /** Starts the worker and resolves once it has loaded the model, or rejects with its reason. */
  static async start(options: WorkerInstanceOptions): Promise<WorkerInstance> {
    const worker = startWorker(options.callerUrl, options.moduleBaseName, { workerData: options.workerData, name: options.instanceName });
    const signature = await new Promise<ModelSignature>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`instance ${options.instanceName} exited with code ${code} while loading`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (reply: WorkerReply) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (reply.type === 'ready') resolve(reply.signature);
        else reject(new Error(reply.type === 'load-error' ? reply.message : `unexpected message '${reply.type}' while loading`));
      });
    }).catch(async (err: Error) => {
      await worker.terminate();
      throw err;
    });
    return new WorkerInstance(options.instanceName, signature, worker, options);
  }

  execute(batch: ExecutionBatch): Promise<ExecutionResult> {
    if (this.closing) return Promise.reject(new Error(`instance ${this.name} is closed`));
    const id = this.nextId++;
    const sent: ExecutionBatch = this.options.sendRequests ? batch : { inputs: batch.inputs, outputNames: batch.outputNames, requests: [] };
    const command: WorkerCommand = { type: 'execute', id, batch: sent };
    return new Promise<ExecutionResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(command, [...transferList(batch.inputs)]);
    });
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  /** Lets the model finalize (bounded by CLOSE_GRACE_MS), then stops the worker. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => {
      this.onClosed = resolve;
      setTimeout(resolve, CLOSE_GRACE_MS).unref();
    });
    this.worker.postMessage({ type: 'close' } satisfies WorkerCommand);
    await closed;
    await this.worker.terminate();
    this.rejectAll(new Error(`instance ${this.name} was unloaded`));
  }

  private onReply(reply: WorkerReply): void {
    if (reply.type === 'closed') return this.onClosed?.();
    if (reply.type !== 'result' && reply.type !== 'error') return;
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (reply.type === 'result') pending.resolve(reply.result);
    else pending.reject(new Error(reply.message));
  }

  private fail(error: Error): void {
    this.closing = true;
    this.rejectAll(error);
    for (const listener of this.failureListeners) listener(error);
  }

  private rejectAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
