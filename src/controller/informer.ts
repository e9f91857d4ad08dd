/**
 * Keeps a cache of one resource in step with the API server: list, then watch from the
 * list's resourceVersion; when a watch ends, watch again from the last version seen; when
 * the server answers 410 Gone (the version is too old), list again and report the
 * differences as events.
 */
import type { KubeObject } from './inference-service.js';
import { errorMessage, statusCode, type KubeClient, type Resource, type WatchEvent } from './kube-client.js';

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** First delay after a failed list or watch; doubles up to 30 s. */
  retryBaseMs: number;
  log: (message: string) => void;
}

export function objectKey(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

export class Informer {
  readonly cache = new Map<string, KubeObject>();
  private resourceVersion = '';
  private abort?: AbortController;
  private stopped = false;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  /** Lists made so far (the first one, then one per 410 or failed watch). */
  lists = 0;
  private readySignal!: () => void;
  /** Resolves after the first successful list. */
  readonly synced = new Promise<void>((resolve) => (this.readySignal = resolve));

  constructor(
    private readonly client: KubeClient,
    private readonly resource: Resource,
    private readonly options: InformerOptions,
    private readonly onChange: (type: 'upsert' | 'delete', object: KubeObject) => void,
  ) {}

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.abort?.abort();
  }

  private retry(what: () => Promise<void>, reason: string): void {
    if (this.stopped) return;
    const delay = Math.min(30_000, this.options.retryBaseMs * 2 ** Math.min(this.failures, 15));
    this.failures++;
    this.options.log(`${this.resource.plural}: ${reason}; retrying in ${delay} ms`);
    this.retryTimer = setTimeout(() => void what(), delay);
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    let listed: Awaited<ReturnType<KubeClient['list']>>;
    try {
      this.lists++;
      listed = await this.client.list(this.resource, { namespace: this.options.namespace, labelSelector: this.options.labelSelector });
    } catch (err) {
      this.retry(() => this.relist(), `list failed: ${errorMessage(err)}`);
      return;
    }
    const seen = new Set<string>();
    for (const item of listed.items) {
      const key = objectKey(item);
      seen.add(key);
      const before = this.cache.get(key);
      this.cache.set(key, item);
      if (before?.metadata.resourceVersion !== item.metadata.resourceVersion) this.onChange('upsert', item);
    }
    for (const [key, object] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.onChange('delete', object);
      }
    }
    this.resourceVersion = listed.resourceVersion;
    this.readySignal();
    await this.rewatch();
  }

  private async rewatch(): Promise<void> {
    if (this.stopped) return;
    let expired = false;
    const onEvent = (event: WatchEvent) => {
      if (event.type === 'ERROR') {
        if (event.object?.code === 410) expired = true;
        else this.options.log(`${this.resource.plural}: watch error: ${String(event.object?.message ?? JSON.stringify(event.object))}`);
        return;
      }
      const object = event.object as KubeObject;
      if (object?.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
      if (event.type === 'BOOKMARK') return;
      this.failures = 0;
      const key = objectKey(object);
      if (event.type === 'DELETED') {
        this.cache.delete(key);
        this.onChange('delete', object);
      } else {
        this.cache.set(key, object);
        this.onChange('upsert', object);
      }
    };
    const done = (err: unknown) => {
      this.abort = undefined;
      if (this.stopped) return;
      if (expired || statusCode(err) === 410) {
        this.options.log(`${this.resource.plural}: resourceVersion ${this.resourceVersion} expired (410); listing again`);
        void this.relist();
      } else if (err) {
        this.retry(() => this.rewatch(), `watch failed: ${errorMessage(err)}`);
      } else {
        // The server ends watches after a while: carry on from the last version seen.
        void this.rewatch();
      }
    };
    this.abort = await this.client.watch(this.resource, { namespace: this.options.namespace, labelSelector: this.options.labelSelector, resourceVersion: this.resourceVersion }, onEvent, done);
    if (this.stopped) this.abort?.abort();
  }
}
