/**
 * The terminal report, in perf_analyzer's layout (settings, then a block per load
 * level, then the throughput/latency summary) followed by a table of every level.
 */
import type { PerfOptions } from './perf-options.js';
import { percentilesOf, reportedLevels, type LevelResult, type PerfResult } from './perf-result.js';

const us = (value: number) => String(Math.floor(value));
const rate = (value: number) => String(Number(value.toPrecision(6)));

export function formatSettings(options: PerfOptions): string {
  const load =
    options.load.kind === 'concurrency'
      ? `  Concurrency range: ${options.load.range.start}:${options.load.range.end || '∞'}:${options.load.range.step}`
      : `  Request rate range: ${options.load.range.start}:${options.load.range.end || '∞'}:${options.load.range.step} per second, ${options.load.distribution} distribution`;
  return [
    '*** Measurement Settings ***',
    `  Batch size: ${options.batchSize}`,
    `  Service Kind: Triton-compatible (${options.protocol.toUpperCase()}${options.streaming ? ' streaming' : ''}, ${options.url})`,
    ...(options.sharedMemory === 'system' ? ['  Using system shared memory'] : []),
    `  Using "${options.measurementMode}" mode for stabilization`,
    options.measurementMode === 'time_windows'
      ? `  Measurement window: ${options.measurementIntervalMs} msec`
      : `  Minimum number of samples in each window: ${options.measurementRequestCount}`,
    load,
    '  Using asynchronous calls for inference',
    `  Stabilizing using ${options.percentile === undefined ? 'average latency' : `p${options.percentile} latency`}`,
    `  Load generator: up to ${options.maxThreads} worker thread${options.maxThreads === 1 ? '' : 's'}`,
    '',
  ].join('\n');
}

function levelName(level: LevelResult): string {
  return level.concurrency !== undefined ? `Request concurrency: ${level.concurrency}` : `Request Rate: ${level.requestRate} inference requests per second`;
}

export function formatLevel(level: LevelResult, result: Pick<PerfResult, 'protocol' | 'percentile' | 'serverStatistics'>): string {
  const lines = [levelName(level), '  Client: ', `    Request count: ${level.requestCount}`, `    Throughput: ${rate(level.throughput)} infer/sec`];
  if (level.requestRate !== undefined) lines.push(`    Avg send request rate: ${rate(level.generator.sentPerSecond)} infer/sec`);
  if (result.percentile === null) lines.push(`    Avg latency: ${us(level.latencyUs.avg)} usec (standard deviation ${us(level.latencyUs.std)} usec)`);
  for (const p of percentilesOf({ percentile: result.percentile ?? undefined })) lines.push(`    p${p} latency: ${us(level.latencyUs.percentiles[String(p)] ?? 0)} usec`);
  const wait = Math.max(0, level.latencyUs.avg - level.clientSendUs - level.clientRecvUs);
  lines.push(`    Avg ${result.protocol === 'grpc' ? 'gRPC' : 'HTTP'} time: ${us(level.latencyUs.avg)} usec (send/recv ${us(level.clientSendUs + level.clientRecvUs)} usec + response wait ${us(wait)} usec)`);
  if (level.errorCount > 0) {
    lines.push(`    Failed requests: ${level.errorCount}`);
    for (const e of level.errors.slice(0, 5)) lines.push(`      ${e.count} × ${e.message}`);
  }
  lines.push(
    `    Load generator: ${level.generator.cpuPercent.toFixed(0)} % CPU of one core, busiest thread ${(level.generator.eventLoopUtilization * 100).toFixed(0)} % busy` +
      (level.requestRate !== undefined ? `, ${level.generator.delayedPercent.toFixed(1)} % of requests delayed` : ''),
  );
  if (level.server) {
    const s = level.server;
    lines.push(
      '  Server: ',
      `    Inference count: ${s.inferenceCount}`,
      `    Execution count: ${s.executionCount}`,
      `    Successful request count: ${s.successCount}`,
      `    Avg request latency: ${us(s.requestUs)} usec (overhead ${us(Math.max(0, s.requestUs - s.queueUs - s.computeInputUs - s.computeInferUs - s.computeOutputUs))} usec + queue ${us(s.queueUs)} usec + compute input ${us(s.computeInputUs)} usec + compute infer ${us(s.computeInferUs)} usec + compute output ${us(s.computeOutputUs)} usec)`,
    );
  } else {
    lines.push(`  Server: statistics unavailable (${result.serverStatistics.reason ?? 'not read'})`);
  }
  if (!level.stable) lines.push(`  [WARNING] not stable after ${level.windows} measurement windows`);
  if (!level.withinLatencyThreshold) lines.push('  [WARNING] latency over the --latency-threshold');
  return `${lines.join('\n')}\n`;
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((cell, i) => cell.padStart(widths[i])).join('  ');
}

export function formatSummary(result: PerfResult): string {
  const lines: string[] = [];
  const reported = reportedLevels(result);
  lines.push(`Inferences/Second vs. Client ${result.percentile === null ? 'Average' : `p${result.percentile}`} Batch Latency`);
  for (const level of reported) {
    const load = level.concurrency !== undefined ? `Concurrency: ${level.concurrency}` : `Request Rate: ${level.requestRate}`;
    lines.push(`${load}, throughput: ${rate(level.throughput)} infer/sec, latency ${us(level.stabilizingLatencyUs)} usec`);
  }
  if (result.levels.length > 0) {
    const loadHeader = result.mode === 'concurrency' ? 'concurrency' : 'rate/s';
    const widths = [11, 10, 8, 8, 8, 8, 8, 7, 6, 7];
    lines.push('', pad([loadHeader, 'infer/s', 'avg ms', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'errors', 'stable', 'gen CPU'], widths));
    for (const level of result.levels) {
      const p = (k: number) => ((level.latencyUs.percentiles[String(k)] ?? 0) / 1000).toFixed(2);
      lines.push(
        pad(
          [
            String(level.concurrency ?? level.requestRate),
            level.throughput.toFixed(1),
            (level.latencyUs.avg / 1000).toFixed(2),
            p(50),
            p(90),
            p(95),
            p(99),
            String(level.errorCount),
            level.stable ? 'yes' : 'no',
            `${level.generator.cpuPercent.toFixed(0)} %`,
          ],
          widths,
        ),
      );
    }
  }
  if (!result.serverStatistics.available) lines.push('', `Server-side split unavailable: ${result.serverStatistics.reason}`);
  if (result.stopReason) lines.push('', `Stopped: ${result.stopReason}`);
  if (result.errorCount > 0) lines.push('', `ERROR: ${result.errorCount} requests failed${result.unansweredCount > 0 ? ` (${result.unansweredCount} of them never answered)` : ''}`);
  return `${lines.join('\n')}\n`;
}
