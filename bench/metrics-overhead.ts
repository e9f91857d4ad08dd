/**
 * bench/metrics-overhead: add_sub JSON throughput at concurrency 64 with metrics on
 * (the default: /metrics served and scraped every second, CPU sampled every
 * --metrics-interval-ms) against `--allow-metrics=false`, in one run. Statistics are
 * recorded in both (they are the one source of truth the metrics read); the optional
 * third server also observes every request into the latency summaries and histogram
 * (`--metrics-config summary_latencies=true histogram_latencies=true`).
 *   npx tsx bench/metrics-overhead.ts [--seconds 5] [--rounds 3] [--summaries]
 * The servers take turns, round after round (the order reversing every round), so that
 * each ratio compares figures taken close together on a shared, noisy machine. The
 * scrapes come from a process of their own, as Prometheus's would: fetched from the
 * bench's process they would charge the scraper's own work to the server. The load
 * comes from `nereid perf` (bench/perf-runner.ts) in its own process.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_METRICS_CONFIG } from '../src/metrics/index.js';
import { startServer, type RunningServer } from '../src/server/index.js';
import { formatRow, type LoadResult } from './load-generator.js';
import { runPerf } from './perf-runner.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => Number(args[args.indexOf(name) + 1] || fallback) || fallback;
const seconds = args.includes('--seconds') ? option('--seconds', 5) : 5;
const rounds = args.includes('--rounds') ? option('--rounds', 3) : 3;
const withSummaries = args.includes('--summaries');
const CONNECTIONS = 64;
const SCRAPE_INTERVAL_MS = 1000;

const repo = mkdtempSync(join(tmpdir(), 'nereid-bench-'));
cpSync(fileURLToPath(new URL('../model_repository/add_sub', import.meta.url)), join(repo, 'add_sub'), { recursive: true });

const values = (offset: number) => Array.from({ length: 16 }, (_, i) => i * 0.5 + offset);
const body = JSON.stringify({
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: values(0) },
    { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: values(1) },
  ],
});

interface Arm {
  name: string;
  server: RunningServer;
  results: LoadResult[];
}

const common = { modelRepositories: [repo], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false, metricsAddress: '127.0.0.1', metricsPort: 0 };
const arms: Arm[] = [
  { name: 'metrics on', server: await startServer(common), results: [] },
  { name: 'metrics off', server: await startServer({ ...common, allowMetrics: false }), results: [] },
];
if (withSummaries) {
  const server = await startServer({ ...common, metricsConfig: { ...DEFAULT_METRICS_CONFIG, summaryLatencies: true, histogramLatencies: true } });
  arms.push({ name: 'summaries on', server, results: [] });
}
for (const arm of arms) {
  const warm = await fetch(`http://127.0.0.1:${arm.server.httpPort}/v2/models/add_sub/infer`, { method: 'POST', body });
  if (warm.status !== 200) throw new Error(`${arm.name}: warm-up request failed: ${await warm.text()}`);
}

/** Prometheus's part: a scrape every second while the load runs, from another process. */
function scrapeWhileRunning(server: RunningServer): () => Promise<number> {
  if (server.metricsPort === undefined) return async () => 0;
  const url = `http://127.0.0.1:${server.metricsPort}/metrics`;
  const scraper = spawn(
    process.execPath,
    ['-e', `setInterval(() => fetch(${JSON.stringify(url)}).then((r) => r.text()).then(() => process.stdout.write('.')), ${SCRAPE_INTERVAL_MS});`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let scrapes = 0;
  scraper.stdout.on('data', (chunk: Buffer) => (scrapes += chunk.length));
  return async () => {
    scraper.kill();
    await new Promise((resolve) => scraper.once('exit', resolve));
    return scrapes;
  };
}

console.log(`metrics-overhead: add_sub JSON, concurrency ${CONNECTIONS}, ${rounds} rounds of ${seconds}s per server, taking turns`);
const widths = [6, 13, 9, 8, 8, 9, 10];
console.log(formatRow(['round', 'server', 'req/s', 'p50 ms', 'p99 ms', 'scrapes', 'gen CPU %'], widths));
for (let round = 1; round <= rounds; round++) {
  for (const arm of round % 2 === 1 ? arms : [...arms].reverse()) {
    const stop = scrapeWhileRunning(arm.server);
    const result = await runPerf({ address: `127.0.0.1:${arm.server.httpPort}`, model: 'add_sub', concurrency: CONNECTIONS, seconds, inputs: { INPUT0: values(0), INPUT1: values(1) } });
    const scrapes = await stop();
    if (result.errors > 0) console.log(`  (${arm.name} answered ${result.errors} requests with errors)`);
    arm.results.push(result);
    console.log(formatRow([round, arm.name, result.requestsPerSecond.toFixed(0), result.p50Ms, result.p99Ms, scrapes, result.generatorCpuPercent.toFixed(0)], widths));
  }
}

const mean = (arm: Arm) => arm.results.reduce((sum, r) => sum + r.requestsPerSecond, 0) / arm.results.length;
const off = mean(arms[1]);
console.log(`metrics on / off: ${(mean(arms[0]) / off).toFixed(3)} (${mean(arms[0]).toFixed(0)} / ${off.toFixed(0)} req/s; target >= 0.97)`);
if (arms[2]) console.log(`summaries on / off: ${(mean(arms[2]) / off).toFixed(3)} (${mean(arms[2]).toFixed(0)} / ${off.toFixed(0)} req/s)`);

for (const arm of arms) await arm.server.stop();
rmSync(repo, { recursive: true, force: true });
