/**
 * The controller loop: informers for InferenceServices and for the Deployments it made feed
 * a work queue of InferenceService keys; each key is reconciled (reconcile.ts), its objects
 * applied server-side, stale ones deleted and the status written back. A failed key is
 * retried with backoff; a 409 on the status write re-reads the InferenceService and
 * reconciles again; every key is reconciled again each resync period.
 */
import { isDeepStrictEqual } from 'node:util';
import type { InferenceService } from './inference-service.js';
import { Informer, objectKey } from './informer.js';
import { errorMessage, RESOURCES, statusCode, type KubeClient } from './kube-client.js';
import { LABELS, reconcile, type ReconcileOptions } from './reconcile.js';

export interface ControllerOptions {
  reconcile: ReconcileOptions;
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  resyncMs: number;
  retryBaseMs: number;
  /** Status writes retried after 409 Conflict before the key is requeued. */
  conflictRetries: number;
  log: (message: string) => void;
  now?: () => string;
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class Controller {
  readonly inferenceServices: Informer;
  readonly deployments: Informer;
  private readonly queue = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = false;
  private stopped = false;
  private resyncTimer?: NodeJS.Timeout;
  private idleWaiters: (() => void)[] = [];
  /** Reconciles completed, for logs and tests. */
  reconciles = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: ControllerOptions,
  ) {
    const informerOptions = { namespace: options.namespace, retryBaseMs: options.retryBaseMs, log: options.log };
    this.inferenceServices = new Informer(client, RESOURCES.inferenceServices, informerOptions, (_type, object) => this.enqueue(objectKey(object)));
    this.deployments = new Informer(client, RESOURCES.deployments, { ...informerOptions, labelSelector: `${LABELS.managedBy}=nereid-controller` }, (_type, object) => {
      const owner = object.metadata.labels?.[LABELS.inferenceService];
      if (owner) this.enqueue(`${object.metadata.namespace}/${owner}`);
    });
  }

  async start(): Promise<void> {
    this.deployments.start();
    await this.deployments.synced;
    this.inferenceServices.start();
    await this.inferenceServices.synced;
    this.resyncTimer = setInterval(() => {
      for (const key of this.inferenceServices.cache.keys()) this.enqueue(key);
    }, this.options.resyncMs);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.inferenceServices.stop();
    this.deployments.stop();
  }

  /** Resolves once the queue is empty and no reconcile runs (tests wait on it). */
  idle(): Promise<void> {
    if (!this.running && this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  enqueue(key: string): void {
    if (this.stopped) return;
    this.queue.add(key);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.size > 0 && !this.stopped) {
      const key = this.queue.values().next().value as string;
      this.queue.delete(key);
      try {
        await this.sync(key);
        this.failures.delete(key);
      } catch (err) {
        const failures = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, failures);
        const delay = Math.min(60_000, this.options.retryBaseMs * 2 ** Math.min(failures - 1, 15));
        this.options.log(`${key}: reconcile failed (${errorMessage(err)}); retrying in ${delay} ms`);
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.enqueue(key);
        }, delay);
        this.timers.add(timer);
      }
      this.reconciles++;
    }
    this.running = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async sync(key: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const isvc = this.inferenceServices.cache.get(key) as InferenceService | undefined;
      // Gone: the garbage collector deletes what it owned.
      if (!isvc) return;
      const written = await this.syncOnce(isvc);
      if (written !== 'conflict') return;
      if (attempt >= this.options.conflictRetries) throw new Error(`status of ${key}: still conflicting after ${attempt + 1} writes`);
      const fresh = await this.client.get(RESOURCES.inferenceServices, isvc.metadata.namespace!, isvc.metadata.name);
      if (fresh) this.inferenceServices.cache.set(key, fresh);
      else this.inferenceServices.cache.delete(key);
    }
  }

  private async syncOnce(isvc: InferenceService): Promise<'done' | 'conflict'> {
    const { namespace, name } = isvc.metadata as { namespace: string; name: string };
    const labelSelector = `${LABELS.inferenceService}=${name}`;
    const deployments = [...this.deployments.cache.values()].filter((d) => d.metadata.namespace === namespace && d.metadata.labels?.[LABELS.inferenceService] === name);
    const observed = {
      deployments,
      autoscalers: (await this.client.list(RESOURCES.autoscalers, { namespace, labelSelector })).items,
      route: this.options.reconcile.gateway ? await this.client.get(RESOURCES.httpRoutes, namespace, name) : undefined,
    };
    const result = reconcile(isvc, observed, this.options.reconcile, this.options.now?.() ?? rfc3339(new Date()));
    if (result.action === 'ignore') return 'done';
    for (const object of result.apply) await this.client.apply(object);
    for (const ref of result.delete) await this.client.delete(ref);
    if (isDeepStrictEqual(stripUndefined(result.status), isvc.status ?? {})) return 'done';
    try {
      const updated = await this.client.replaceStatus({ ...isvc, status: result.status });
      this.inferenceServices.cache.set(objectKey(updated), updated);
      this.options.log(`${namespace}/${name}: ${result.status.conditions?.map((c) => `${c.type}=${c.status}`).join(' ')}`);
      return 'done';
    } catch (err) {
      if (statusCode(err) === 409) return 'conflict';
      throw err;
    }
  }
}

/** The status as it reads back from the API server (JSON has no undefined). */
function stripUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

