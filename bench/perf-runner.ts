/**
 * One `nereid perf` measurement in its own process, for the benches that compare
 * Nereid with Nereid (a bench that compares Nereid with another server needs a load
 * generator that speaks to both, and uses autocannon through load-generator.ts).
 * nereid perf reads the model's metadata, sends the values of a perf_analyzer data
 * file, and reports latency in microseconds (HdrHistogram) where autocannon rounds to
 * whole milliseconds.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './load-generator.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

export interface PerfOptions {
  /** host:port of the server's HTTP endpoint. */
  address: string;
  model: string;
  concurrency: number;
  /** Measured over three windows of seconds/3, merged (`-p`, with `-s 1000` so that it stops at three). */
  seconds: number;
  /** One request's input values by input name, written as a perf_analyzer data file. */
  inputs: Record<string, number[]>;
}

export interface PerfResult extends LoadResult {
  p50Us: number;
  p99Us: number;
}

export function runPerf(options: PerfOptions): Promise<PerfResult> {
  const work = mkdtempSync(join(tmpdir(), 'nereid-perf-run-'));
  const dataFile = join(work, 'data.json');
  const json = join(work, 'result.json');
  writeFileSync(dataFile, JSON.stringify({ data: [options.inputs] }));
  const args = [
    'perf',
    '-m', options.model,
    '-u', options.address,
    '--concurrency-range', String(options.concurrency),
    '-p', String(Math.round((options.seconds * 1000) / 3)),
    '-s', '1000',
    '--input-data', dataFile,
    '--input-tensor-format', 'json',
    '--output-tensor-format', 'json',
    '--json', json,
  ];
  return new Promise<PerfResult>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`nereid perf exited with ${code}`);
        const result = JSON.parse(readFileSync(json, 'utf8'));
        const level = result.levels[0];
        const p50Us = level.latencyUs.percentiles['50'];
        const p99Us = level.latencyUs.percentiles['99'];
        resolve({
          requestsPerSecond: level.requestsPerSecond,
          p50Us,
          p99Us,
          p50Ms: p50Us / 1000,
          p99Ms: p99Us / 1000,
          errors: result.errorCount,
          generatorCpuPercent: level.generator.cpuPercent,
        });
      } catch (err) {
        reject(err);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
  });
}
