/**
 * Promote or roll back: the canary must have served enough requests in the window,
 * fail no more often than allowed, and be no slower on average than the stable
 * version by more than the allowed ratio. Figures come from the servers' own
 * nv_inference_* counters over the window.
 */
import type { ModelCounters } from './model-metrics.js';

export interface VerdictThresholds {
  minRequests: number;
  /** Largest acceptable failed / all requests of the canary, 0…1. */
  maxErrorRate: number;
  /** Largest acceptable canary mean latency / stable mean latency. */
  maxLatencyRatio: number;
}

export interface SideFigures {
  requests: number;
  failures: number;
  errorRate: number;
  /** Mean duration of a successful request, ms; null without any. */
  meanMs: number | null;
}

export interface Verdict {
  decision: 'promote' | 'rollback';
  reasons: string[];
  stable: SideFigures;
  canary: SideFigures;
  /** Canary mean / stable mean; null when either had no successful request. */
  latencyRatio: number | null;
}

function figures(c: ModelCounters): SideFigures {
  const requests = c.success + c.failure;
  return { requests, failures: c.failure, errorRate: requests > 0 ? c.failure / requests : 0, meanMs: c.success > 0 ? c.requestDurationUs / c.success / 1000 : null };
}

export function canaryVerdict(stableWindow: ModelCounters, canaryWindow: ModelCounters, t: VerdictThresholds): Verdict {
  const stable = figures(stableWindow);
  const canary = figures(canaryWindow);
  const failures: string[] = [];
  const passes: string[] = [];
  if (canary.requests < t.minRequests) failures.push(`the canary served ${canary.requests} requests in the window, fewer than min_requests ${t.minRequests}`);
  else passes.push(`the canary served ${canary.requests} requests`);
  if (canary.errorRate > t.maxErrorRate) failures.push(`canary error rate ${(canary.errorRate * 100).toFixed(2)}% exceeds max_error_rate ${(t.maxErrorRate * 100).toFixed(2)}%`);
  else passes.push(`canary error rate ${(canary.errorRate * 100).toFixed(2)}% within ${(t.maxErrorRate * 100).toFixed(2)}%`);
  const latencyRatio = canary.meanMs !== null && stable.meanMs !== null && stable.meanMs > 0 ? canary.meanMs / stable.meanMs : null;
  if (latencyRatio === null) passes.push('latency not compared: the stable version had no successful request in the window');
  else if (latencyRatio > t.maxLatencyRatio) failures.push(`canary mean latency ${canary.meanMs!.toFixed(3)} ms is ${latencyRatio.toFixed(2)}× the stable ${stable.meanMs!.toFixed(3)} ms, above max_latency_ratio ${t.maxLatencyRatio}`);
  else passes.push(`canary mean latency ${canary.meanMs!.toFixed(3)} ms is ${latencyRatio.toFixed(2)}× the stable ${stable.meanMs!.toFixed(3)} ms`);
  return { decision: failures.length === 0 ? 'promote' : 'rollback', reasons: failures.length > 0 ? failures : passes, stable, canary, latencyRatio };
}
