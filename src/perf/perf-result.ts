/**
 * The result of a run, as the JSON report writes it and every other report reads
 * it. Times are microseconds, rates per second.
 */
import type { MeasurementWindow } from './measurement-window.js';
import type { LoadMode, MeasurementMode, PerfOptions } from './perf-options.js';
import { serverSplit, type ServerSplit } from './server-stats.js';

/** perf_analyzer always reports these; `--percentile` adds its own. */
export const REPORTED_PERCENTILES = [50, 90, 95, 99] as const;

export interface LevelResult {
  /** Set in concurrency mode. */
  concurrency?: number;
  /** Set in request-rate mode: the target rate. */
  requestRate?: number;
  /** The last three windows agreed (see --stability-percentage). */
  stable: boolean;
  /** The stabilising latency stayed under --latency-threshold (always true without one). */
  withinLatencyThreshold: boolean;
  /** Windows measured before the level stabilised or ran out of trials. */
  windows: number;
  /** The measured figures below cover the last `mergedWindows` windows. */
  mergedWindows: number;
  durationS: number;
  /** Successful requests in the merged windows. */
  requestCount: number;
  /** Failed requests at this level, in every window measured (not only the merged ones). */
  errorCount: number;
  /** The distinct failures, most frequent first. */
  errors: Array<{ message: string; count: number }>;
  /** Inferences per second: successful requests per second × batch size. */
  throughput: number;
  requestsPerSecond: number;
  latencyUs: {
    avg: number;
    std: number;
    min: number;
    max: number;
    /** Percentile → microseconds; keys are strings in JSON ("50", "90", …). */
    percentiles: Record<string, number>;
  };
  /** The latency the stability check and the threshold used: the average or the --percentile. */
  stabilizingLatencyUs: number;
  clientSendUs: number;
  clientRecvUs: number;
  /** Null when the server does not offer the statistics extension. */
  server: ServerSplit | null;
  generator: {
    threads: number;
    /** CPU of the generator's process, in % of one core. */
    cpuPercent: number;
    /** The busiest worker thread's event-loop utilisation, 0…1. */
    eventLoopUtilization: number;
    /** Requests sent per second (request-rate mode: compare with the target). */
    sentPerSecond: number;
    /** Request-rate mode: % of requests sent more than 2 ms after their scheduled time. */
    delayedPercent: number;
  };
}

export interface PerfResult {
  model: string;
  version: string;
  url: string;
  protocol: string;
  streaming: boolean;
  /** `system`: the tensors travelled in shared memory, the requests carried only their places. */
  sharedMemory: 'none' | 'system';
  /** HTTP without shared memory: how the tensors travelled in the bodies. */
  tensorFormat: { inputs: 'json' | 'binary'; outputs: 'json' | 'binary' } | null;
  batchSize: number;
  mode: LoadMode['kind'];
  requestDistribution?: string;
  measurementMode: MeasurementMode;
  measurementIntervalMs: number;
  measurementRequestCount: number;
  stabilityPercentage: number;
  maxTrials: number;
  percentile: number | null;
  latencyThresholdMs: number;
  threads: number;
  /** Whether the server-side split could be read, and why not. */
  serverStatistics: { available: boolean; reason?: string };
  /** Every load level measured, in order. */
  levels: LevelResult[];
  /** Failed requests over the whole run, measured windows or not. */
  errorCount: number;
  /** Requests still unanswered when the run ended. */
  unansweredCount: number;
  /** Why the sweep ended before its last level, if it did. */
  stopReason: string | null;
  warnings: string[];
}

/** perf_analyzer reports a level only when it is stable and under the latency threshold. */
export function reportedLevels(result: PerfResult): LevelResult[] {
  return result.levels.filter((level) => level.stable && level.withinLatencyThreshold);
}

export function percentilesOf(options: Pick<PerfOptions, 'percentile'>): number[] {
  const list: number[] = [...REPORTED_PERCENTILES];
  if (options.percentile !== undefined && !list.includes(options.percentile)) list.push(options.percentile);
  return list.sort((a, b) => a - b);
}

/** The latency that stability and the threshold look at. */
export function stabilizingLatencyUs(window: MeasurementWindow, percentile: number | undefined): number {
  return percentile === undefined ? window.histogram.meanUs : window.histogram.percentileUs(percentile);
}

export function levelResult(
  load: { concurrency?: number; requestRate?: number },
  merged: MeasurementWindow,
  facts: { stable: boolean; withinLatencyThreshold: boolean; windows: number; mergedWindows: number; batchSize: number; threads: number; percentile: number | undefined },
): LevelResult {
  const latency = merged.histogram.summary(percentilesOf(facts));
  const ok = merged.okCount;
  const clientSendUs = ok > 0 ? merged.sendUsSum / ok : 0;
  const clientRecvUs = ok > 0 ? merged.recvUsSum / ok : 0;
  return {
    ...load,
    stable: facts.stable,
    withinLatencyThreshold: facts.withinLatencyThreshold,
    windows: facts.windows,
    mergedWindows: facts.mergedWindows,
    durationS: merged.durationMs / 1000,
    requestCount: ok,
    errorCount: merged.errorCount,
    errors: [...merged.errors].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count),
    throughput: merged.requestsPerSecond * facts.batchSize,
    requestsPerSecond: merged.requestsPerSecond,
    latencyUs: {
      avg: latency.avgUs,
      std: latency.stdUs,
      min: latency.minUs,
      max: latency.maxUs,
      percentiles: Object.fromEntries(Object.entries(latency.percentilesUs).map(([p, v]) => [String(p), v])),
    },
    stabilizingLatencyUs: stabilizingLatencyUs(merged, facts.percentile),
    clientSendUs,
    clientRecvUs,
    server: merged.server ? serverSplit(merged.server, { avgLatencyUs: latency.avgUs, sendUs: clientSendUs, recvUs: clientRecvUs }) : null,
    generator: {
      threads: facts.threads,
      cpuPercent: merged.cpuPercent,
      eventLoopUtilization: merged.eventLoopUtilization,
      sentPerSecond: merged.sentPerSecond,
      delayedPercent: merged.sentCount > 0 ? (merged.delayedCount / merged.sentCount) * 100 : 0,
    },
  };
}
