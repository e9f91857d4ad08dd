/**
 * The coordinator's handle on the load worker threads: starts them, splits each
 * load level among them, and gathers their windows.
 */
import type { Worker } from 'node:worker_threads';
import { InferenceError } from '../core/index.js';
import type { RequestDistribution } from './perf-options.js';
import { startWorker } from '../core/index.js';
import type { FromWorker, ToWorker, WorkerInit, WorkerWindow } from './worker-protocol.js';

interface Waiter {
  type: FromWorker['type'];
  resolve: (message: FromWorker) => void;
  reject: (err: Error) => void;
}

class LoadWorker {
  private readonly waiters: Waiter[] = [];
  private failure: Error | undefined;

  constructor(private readonly worker: Worker) {
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'failed') return this.fail(new InferenceError('INTERNAL', `load worker failed: ${message.message}`));
      const at = this.waiters.findIndex((w) => w.type === message.type);
      if (at >= 0) this.waiters.splice(at, 1)[0].resolve(message);
    });
    worker.on('error', (err) => this.fail(new InferenceError('INTERNAL', `load worker crashed: ${err.message}`)));
    worker.on('exit', (code) => this.fail(new InferenceError('INTERNAL', `load worker exited with code ${code}`)));
  }

  post(message: ToWorker): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(message);
  }

  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ type, resolve: resolve as (m: FromWorker) => void, reject }));
  }

  terminate(): Promise<number> {
    this.failure ??= new InferenceError('INTERNAL', 'load worker terminated');
    return this.worker.terminate();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
  }
}

export class LoadWorkers {
  private constructor(private readonly workers: LoadWorker[]) {}

  static async start(count: number, init: Omit<WorkerInit, 'index'>): Promise<LoadWorkers> {
    const workers = Array.from(
      { length: count },
      (_, index) => new LoadWorker(startWorker(import.meta.url, 'load-worker', { workerData: { ...init, index }, name: `nereid-perf-${index}` })),
    );
    try {
      await Promise.all(workers.map((w) => w.next('ready')));
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new LoadWorkers(workers);
  }

  /** `concurrency` requests in flight in all, split as evenly as possible. */
  setConcurrency(concurrency: number): void {
    const n = this.workers.length;
    this.workers.forEach((worker, i) => worker.post({ type: 'concurrency', slots: Math.floor(concurrency / n) + (i < concurrency % n ? 1 : 0) }));
  }

  /** `rate` requests per second in all; each worker sends its share. */
  setRequestRate(rate: number, distribution: RequestDistribution, seed: number): void {
    const n = this.workers.length;
    this.workers.forEach((worker, i) => worker.post({ type: 'rate', rate: rate / n, distribution, phase: i / n, seed: seed + i * 7919 }));
  }

  /** Sends `message` to every worker and gathers each one's `reply`. */
  private ask<T extends FromWorker['type']>(message: ToWorker, reply: T): Promise<Array<Extract<FromWorker, { type: T }>>> {
    const replies = this.workers.map((w) => w.next(reply));
    for (const worker of this.workers) worker.post(message);
    return Promise.all(replies);
  }

  /** Ends the current window in every worker. */
  async collect(): Promise<WorkerWindow[]> {
    return (await this.ask({ type: 'collect' }, 'window')).map((reply) => reply.window);
  }

  /** Requests answered in the current window so far, over every worker. */
  async completed(): Promise<number> {
    return (await this.ask({ type: 'count' }, 'count')).reduce((total, reply) => total + reply.completed, 0);
  }

  /**
   * Stops the load, waits for the answers in flight and ends the threads; resolves
   * with the requests left unanswered and the failures after the last window.
   */
  async stop(): Promise<{ abandoned: number; errorCount: number }> {
    const totals = { abandoned: 0, errorCount: 0 };
    try {
      for (const reply of await this.ask({ type: 'stop' }, 'stopped')) {
        totals.abandoned += reply.abandoned;
        totals.errorCount += reply.errorCount;
      }
    } finally {
      await Promise.all(this.workers.map((w) => w.terminate()));
    }
    return totals;
  }
}
