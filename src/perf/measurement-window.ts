/** One measurement window over all workers, and the merge of several into a load level's figures. */
import { LatencyHistogram } from './latency-histogram.js';
import { addSnapshots, type StatsSnapshot } from './server-stats.js';
import type { WorkerWindow } from './worker-protocol.js';

export interface MeasurementWindow {
  /** The workers' mean window length. */
  durationMs: number;
  /** Successful requests per second: the sum of each worker's own rate over its own window. */
  requestsPerSecond: number;
  okCount: number;
  errorCount: number;
  errors: Map<string, number>;
  histogram: LatencyHistogram;
  sendUsSum: number;
  recvUsSum: number;
  sentCount: number;
  sentPerSecond: number;
  delayedCount: number;
  /** CPU time of the generator's process over the window, in % of one core. */
  cpuPercent: number;
  /** The busiest worker's event-loop utilisation (0…1). */
  eventLoopUtilization: number;
  /** The server's statistics over the window, when it offers them. */
  server: StatsSnapshot | undefined;
}

function mergeErrors(into: Map<string, number>, from: Iterable<[string, number]>): void {
  for (const [text, count] of from) into.set(text, (into.get(text) ?? 0) + count);
}

export function windowOf(workers: readonly WorkerWindow[], cpuUs: number, server: StatsSnapshot | undefined): MeasurementWindow {
  const histogram = new LatencyHistogram();
  const errors = new Map<string, number>();
  let requestsPerSecond = 0;
  let sentPerSecond = 0;
  let durationMs = 0;
  const sum = (pick: (w: WorkerWindow) => number) => workers.reduce((total, w) => total + pick(w), 0);
  for (const w of workers) {
    histogram.recordAll(w.latenciesUs);
    mergeErrors(errors, Object.entries(w.errors));
    if (w.durationMs > 0) {
      requestsPerSecond += (w.okCount * 1000) / w.durationMs;
      sentPerSecond += (w.sentCount * 1000) / w.durationMs;
    }
    durationMs += w.durationMs / workers.length;
  }
  return {
    durationMs,
    requestsPerSecond,
    okCount: sum((w) => w.okCount),
    errorCount: sum((w) => w.errorCount),
    errors,
    histogram,
    sendUsSum: sum((w) => w.sendUsSum),
    recvUsSum: sum((w) => w.recvUsSum),
    sentCount: sum((w) => w.sentCount),
    sentPerSecond,
    delayedCount: sum((w) => w.delayedCount),
    cpuPercent: durationMs > 0 ? (cpuUs / 1000 / durationMs) * 100 : 0,
    eventLoopUtilization: Math.max(0, ...workers.map((w) => w.eventLoopUtilization)),
    server,
  };
}

/** Several consecutive windows as one: counts add up, rates are weighted by window length. */
export function mergeWindows(windows: readonly MeasurementWindow[]): MeasurementWindow {
  const histogram = new LatencyHistogram();
  const errors = new Map<string, number>();
  let durationMs = 0;
  let weighted = { rps: 0, sent: 0, cpu: 0 };
  let server: StatsSnapshot | undefined;
  for (const w of windows) {
    histogram.add(w.histogram);
    mergeErrors(errors, w.errors);
    durationMs += w.durationMs;
    weighted = { rps: weighted.rps + w.requestsPerSecond * w.durationMs, sent: weighted.sent + w.sentPerSecond * w.durationMs, cpu: weighted.cpu + w.cpuPercent * w.durationMs };
    server = w.server && (server ? addSnapshots(server, w.server) : w.server);
  }
  const sum = (pick: (w: MeasurementWindow) => number) => windows.reduce((total, w) => total + pick(w), 0);
  const over = (value: number) => (durationMs > 0 ? value / durationMs : 0);
  return {
    durationMs,
    requestsPerSecond: over(weighted.rps),
    okCount: sum((w) => w.okCount),
    errorCount: sum((w) => w.errorCount),
    errors,
    histogram,
    sendUsSum: sum((w) => w.sendUsSum),
    recvUsSum: sum((w) => w.recvUsSum),
    sentCount: sum((w) => w.sentCount),
    sentPerSecond: over(weighted.sent),
    delayedCount: sum((w) => w.delayedCount),
    cpuPercent: over(weighted.cpu),
    eventLoopUtilization: Math.max(0, ...windows.map((w) => w.eventLoopUtilization)),
    server: windows.every((w) => w.server) ? server : undefined,
  };
}
