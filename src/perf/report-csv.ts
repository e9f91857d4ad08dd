/**
 * perf_analyzer's `-f` CSV: the same columns in the same order (the server columns
 * only when the server's statistics were read, as perf_analyzer does), times in
 * whole microseconds, rows sorted by increasing throughput, so that scripts and
 * spreadsheets written for perf_analyzer read it unchanged.
 */
import { percentilesOf, reportedLevels, type PerfResult } from './perf-result.js';

const us = (value: number) => String(Math.floor(value));
/** perf_analyzer writes doubles with the stream default: six significant digits. */
const double = (value: number) => String(Number(value.toPrecision(6)));

export function csvReport(result: PerfResult, options: { verbose?: boolean } = {}): string {
  const levels = reportedLevels(result).sort((a, b) => a.throughput - b.throughput);
  const withServer = result.serverStatistics.available && levels.every((l) => l.server);
  const percentiles = percentilesOf({ percentile: result.percentile ?? undefined });
  const header = [result.mode === 'concurrency' ? 'Concurrency' : 'Request Rate', 'Inferences/Second', 'Client Send'];
  if (withServer) header.push('Network+Server Send/Recv', 'Server Queue', 'Server Compute Input', 'Server Compute Infer', 'Server Compute Output');
  header.push('Client Recv', ...percentiles.map((p) => `p${p} latency`));
  if (options.verbose) {
    if (result.percentile === null) header.push('Avg latency');
    header.push('request/response', 'response wait');
  }
  const rows = levels.map((level) => {
    const row = [String(level.concurrency ?? level.requestRate), double(level.throughput), us(level.clientSendUs)];
    if (withServer) {
      const s = level.server!;
      row.push(us(s.networkUs), us(s.queueUs), us(s.computeInputUs), us(s.computeInferUs), us(s.computeOutputUs));
    }
    row.push(us(level.clientRecvUs), ...percentiles.map((p) => us(level.latencyUs.percentiles[String(p)] ?? 0)));
    if (options.verbose) {
      if (result.percentile === null) row.push(us(level.latencyUs.avg));
      const sendRecv = Math.floor(level.clientSendUs) + Math.floor(level.clientRecvUs);
      row.push(String(sendRecv), String(Math.max(0, Math.floor(level.latencyUs.avg) - sendRecv)));
    }
    return row.join(',');
  });
  return `${[header.join(','), ...rows].join('\n')}\n`;
}
