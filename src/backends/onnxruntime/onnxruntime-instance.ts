import type { Worker } from 'node:worker_threads';
import type { Tensor } from '../../core/index.js';
import type { ExecutionResult, InstanceOptions, ModelInstance, ModelSignature } from '../backend.js';
import { startWorker } from '../worker-script.js';
import type { SessionWorkerData, WorkerReply, WorkerRequest } from './worker-protocol.js';

const GRAPH_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
type GraphLevel = (typeof GRAPH_LEVELS)[number];

function intParameter(parameters: Record<string, string>, key: string, fallback: number): number {
  const text = parameters[key];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`parameter '${key}' must be a non-negative integer, got '${text}'`);
  return value;
}

/** Triton's `optimization { graph { level } }`: -1 basic only, otherwise everything ORT offers. */
function graphLevel(parameters: Record<string, string>, configLevel: number): GraphLevel {
  const text = parameters['graph_optimization_level'];
  if (text === undefined) return configLevel === -1 ? 'basic' : 'all';
  if (!(GRAPH_LEVELS as readonly string[]).includes(text)) {
    throw new Error(`parameter 'graph_optimization_level' must be one of ${GRAPH_LEVELS.join(', ')}, got '${text}'`);
  }
  return text as GraphLevel;
}

interface Pending {
  resolve(result: ExecutionResult): void;
  reject(error: Error): void;
}

/** Main-thread handle of one session worker. */
export class OnnxRuntimeInstance implements ModelInstance {
  private readonly pending = new Map<number, Pending>();
  private readonly failureListeners: Array<(error: Error) => void> = [];
  private nextId = 0;
  private closing = false;

  private constructor(
    readonly name: string,
    readonly signature: ModelSignature,
    private readonly worker: Worker,
    private readonly modelLabel: string,
  ) {
    worker.on('message', (reply: WorkerReply) => this.onReply(reply));
    worker.on('error', (err) => this.fail(new Error(`instance ${name} of model ${modelLabel} crashed: ${err.message}`)));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`instance ${name} of model ${modelLabel} exited unexpectedly (code ${code})`));
    });
  }

  static async load(options: InstanceOptions): Promise<OnnxRuntimeInstance> {
    const workerData: SessionWorkerData = {
      modelPath: options.modelPath,
      intraOpThreads: intParameter(options.parameters, 'intra_op_thread_count', options.defaultIntraOpThreads),
      interOpThreads: intParameter(options.parameters, 'inter_op_thread_count', 1),
      graphOptimizationLevel: graphLevel(options.parameters, options.graphOptimizationLevel),
    };
    const worker = startWorker(import.meta.url, 'session-worker', { workerData, name: options.instanceName });
    const label = `'${options.modelName}' version ${options.version}`;
    const signature = await new Promise<ModelSignature>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`session worker exited with code ${code} while loading`));
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
    return new OnnxRuntimeInstance(options.instanceName, signature, worker, label);
  }

  execute(inputs: Tensor[], outputNames: string[]): Promise<ExecutionResult> {
    if (this.closing) return Promise.reject(new Error(`instance ${this.name} is closed`));
    const id = this.nextId++;
    const request: WorkerRequest = { id, inputs, outputNames };
    const transfer = new Set<ArrayBuffer>();
    for (const input of inputs) {
      // A SharedArrayBuffer is shared, not transferred.
      if (!Array.isArray(input.data) && input.data.buffer instanceof ArrayBuffer) transfer.add(input.data.buffer);
    }
    return new Promise<ExecutionResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(request, [...transfer]);
    });
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
    this.rejectAll(new Error(`instance ${this.name} was unloaded`));
  }

  private onReply(reply: WorkerReply): void {
    if (reply.type !== 'result' && reply.type !== 'error') return;
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (reply.type === 'result') pending.resolve({ outputs: reply.outputs, timing: reply.timing });
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
