/**
 * The serving settings `nereid tune` varies, and how one candidate rewrites a model's
 * configuration (the JSON form the repository API returns and accepts as override).
 */
import { InferenceError } from '../core/index.js';

export interface Candidate {
  maxBatchSize: number;
  dynamicBatching: boolean;
  /** 0: no preferred size (the batcher fills up to max_batch_size). */
  preferredBatchSize: number;
  maxQueueDelayUs: number;
  instanceCount: number;
  intraOpThreads: number;
}

export interface SearchSpace {
  maxBatchSizes: number[];
  preferredBatchSizes: number[];
  maxQueueDelaysUs: number[];
  instanceCounts: number[];
  intraOpThreads: number[];
}

/** A short, stable name for tables, caches and the report. */
export function candidateKey(c: Candidate): string {
  const batching = c.dynamicBatching ? `dyn(pref=${c.preferredBatchSize || '-'},delay=${c.maxQueueDelayUs}us)` : 'nodyn';
  return `mbs=${c.maxBatchSize} ${batching} inst=${c.instanceCount} threads=${c.intraOpThreads}`;
}

/**
 * The space for a model whose configured max_batch_size is `modelMaxBatch`: smaller
 * batch limits, batching on and off, a few queue delays, one or two instances. A model
 * without batching (max_batch_size 0) can only vary instances and threads.
 */
export function defaultSearchSpace(modelMaxBatch: number): SearchSpace {
  const batches = modelMaxBatch > 0 ? [...new Set([Math.max(1, Math.floor(modelMaxBatch / 8)), modelMaxBatch])] : [0];
  return {
    maxBatchSizes: batches,
    preferredBatchSizes: [0],
    maxQueueDelaysUs: [0, 500],
    instanceCounts: [1, 2],
    intraOpThreads: [1],
  };
}

/** Every distinct candidate; batching settings are dropped where batching is off or impossible. */
export function enumerate(space: SearchSpace): Candidate[] {
  const out = new Map<string, Candidate>();
  for (const maxBatchSize of space.maxBatchSizes) {
    for (const instanceCount of space.instanceCounts) {
      for (const intraOpThreads of space.intraOpThreads) {
        const base = { maxBatchSize, instanceCount, intraOpThreads, dynamicBatching: false, preferredBatchSize: 0, maxQueueDelayUs: 0 };
        out.set(candidateKey(base), base);
        if (maxBatchSize <= 1) continue;
        for (const preferredBatchSize of space.preferredBatchSizes) {
          if (preferredBatchSize > maxBatchSize) continue;
          for (const maxQueueDelayUs of space.maxQueueDelaysUs) {
            const c = { ...base, dynamicBatching: true, preferredBatchSize, maxQueueDelayUs };
            out.set(candidateKey(c), c);
          }
        }
      }
    }
  }
  return [...out.values()];
}

type Json = Record<string, unknown>;

/** The model's configuration with the candidate's settings in place of its own. */
export function applyCandidate(config: Json, c: Candidate): Json {
  const next: Json = structuredClone(config);
  next.max_batch_size = c.maxBatchSize;
  if (c.dynamicBatching) {
    next.dynamic_batching = {
      ...(c.preferredBatchSize > 0 ? { preferred_batch_size: [c.preferredBatchSize] } : {}),
      max_queue_delay_microseconds: c.maxQueueDelayUs,
    };
  } else {
    delete next.dynamic_batching;
  }
  const groups = Array.isArray(next.instance_group) && next.instance_group.length > 0 ? (next.instance_group as Json[]) : [{ kind: 'KIND_CPU' }];
  next.instance_group = [{ ...groups[0], count: c.instanceCount }];
  const parameters = (typeof next.parameters === 'object' && next.parameters !== null ? next.parameters : {}) as Json;
  next.parameters = { ...parameters, intra_op_thread_count: { string_value: String(c.intraOpThreads) } };
  return next;
}

/** The candidate the model runs with today, so that the search can report its gain over it. */
export function candidateOf(config: Json): Candidate {
  const maxBatchSize = Number(config.max_batch_size ?? 0);
  const dyn = config.dynamic_batching as Json | undefined;
  const groups = config.instance_group as Json[] | undefined;
  const parameters = config.parameters as Record<string, { string_value?: string }> | undefined;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 0) throw new InferenceError('INVALID_ARG', `model config: max_batch_size ${String(config.max_batch_size)} is not a non-negative integer`);
  const preferred = dyn?.preferred_batch_size;
  return {
    maxBatchSize,
    dynamicBatching: dyn !== undefined,
    preferredBatchSize: Array.isArray(preferred) && preferred.length > 0 ? Number(preferred[0]) : 0,
    maxQueueDelayUs: Number(dyn?.max_queue_delay_microseconds ?? 0),
    instanceCount: Number(groups?.[0]?.count ?? 1),
    intraOpThreads: Number(parameters?.intra_op_thread_count?.string_value ?? 1),
  };
}
