import type { InferenceError, InferenceRequest, InferenceResponse } from '../core/index.js';
import type { ModelStatistics } from '../metrics/index.js';
import { ResponseCache } from './response-cache.js';
import type { ModelScheduler } from './scheduler.js';

/**
 * The response cache in front of a model's scheduler: a hit is answered before the
 * request is queued, so it costs no queueing and no instance; a miss goes on to the
 * scheduler and its successful answer is stored. Errors are never stored.
 */
export class CachingScheduler implements ModelScheduler {
  constructor(
    private readonly inner: ModelScheduler,
    private readonly cache: ResponseCache,
    /** Identifies this load of the model version: entries of an earlier load never match. */
    private readonly scope: string,
    private readonly statistics: ModelStatistics,
  ) {}

  get pendingCount(): number {
    return this.inner.pendingCount;
  }

  get queuedCount(): number {
    return this.inner.queuedCount;
  }

  enqueue(request: InferenceRequest): Promise<InferenceResponse> {
    const start = performance.now();
    let key: string;
    try {
      key = ResponseCache.key(this.scope, request);
    } catch {
      // Inputs the key cannot be made of (malformed data) are left to the scheduler to report.
      return this.inner.enqueue(request);
    }
    const cached = this.cache.lookup(key);
    const lookupNs = (performance.now() - start) * 1e6;
    if (cached) {
      this.statistics.recordCacheHit(lookupNs);
      return Promise.resolve({ ...cached, model: request.model, id: request.id });
    }
    this.statistics.recordCacheMiss(lookupNs);
    return this.inner.enqueue(request).then((response) => {
      const insertStart = performance.now();
      this.cache.insert(key, this.scope, response);
      this.statistics.addCacheMissTime((performance.now() - insertStart) * 1e6);
      return response;
    });
  }

  drain(): Promise<void> {
    return this.inner.drain();
  }

  failQueued(error: InferenceError): void {
    this.inner.failQueued(error);
  }
}
