/** The figures of one perf level that pipeline reports keep. */
import type { LevelResult, PerfResult } from '../../perf/index.js';

export interface LevelFigures {
  concurrency: number | undefined;
  requestRate: number | undefined;
  requests: number;
  errors: number;
  errorMessages: string[];
  throughput: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
}

export function levelFigures(level: LevelResult): LevelFigures {
  return {
    concurrency: level.concurrency,
    requestRate: level.requestRate,
    requests: level.requestCount,
    errors: level.errorCount,
    errorMessages: level.errors.map((e) => `${e.message} (×${e.count})`),
    throughput: level.throughput,
    avgMs: level.latencyUs.avg / 1000,
    p50Ms: (level.latencyUs.percentiles['50'] ?? 0) / 1000,
    p99Ms: (level.latencyUs.percentiles['99'] ?? level.latencyUs.max) / 1000,
  };
}

export function resultFigures(result: PerfResult): LevelFigures[] {
  return result.levels.map(levelFigures);
}

export function formatFigures(f: LevelFigures): string {
  const load = f.concurrency !== undefined ? `concurrency ${f.concurrency}` : `${f.requestRate} req/s`;
  return `${load}: ${f.throughput.toFixed(1)} infer/s, p99 ${f.p99Ms.toFixed(2)} ms${f.errors ? `, ${f.errors} errors` : ''}`;
}
