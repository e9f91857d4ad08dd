/**
 * A model's request counters from a Nereid (or Triton) metrics endpoint: the
 * nv_inference_* counters of one model summed over its versions. Two scrapes make a
 * window; their difference is what the window saw.
 */
import { InferenceError } from '../core/index.js';

export interface ModelCounters {
  success: number;
  failure: number;
  /** nv_inference_request_duration_us: cumulative duration of successful requests. */
  requestDurationUs: number;
  queueDurationUs: number;
}

const FAMILIES: Record<string, keyof ModelCounters> = {
  nv_inference_request_success: 'success',
  nv_inference_request_failure: 'failure',
  nv_inference_request_duration_us: 'requestDurationUs',
  nv_inference_queue_duration_us: 'queueDurationUs',
};

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}\s+(\S+)/;

export function modelCounters(text: string, model: string): ModelCounters {
  const counters: ModelCounters = { success: 0, failure: 0, requestDurationUs: 0, queueDurationUs: 0 };
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const field = FAMILIES[match[1]];
    if (!field) continue;
    const labels = match[2];
    if (!labels.includes(`model="${model}"`)) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) counters[field] += value;
  }
  return counters;
}

export async function scrapeModelCounters(metricsUrl: string, model: string): Promise<ModelCounters> {
  let response: Response;
  try {
    response = await fetch(metricsUrl);
  } catch (err) {
    throw new InferenceError('UNAVAILABLE', `cannot scrape ${metricsUrl}: ${(err as Error).message}`);
  }
  if (!response.ok) throw new InferenceError('UNAVAILABLE', `scraping ${metricsUrl} answered HTTP ${response.status}`);
  return modelCounters(await response.text(), model);
}

export function counterDelta(before: ModelCounters, after: ModelCounters): ModelCounters {
  return {
    success: after.success - before.success,
    failure: after.failure - before.failure,
    requestDurationUs: after.requestDurationUs - before.requestDurationUs,
    queueDurationUs: after.queueDurationUs - before.queueDurationUs,
  };
}
