/**
 * bench/http-wrk: the add_sub KServe v2 JSON request under wrk (C, epoll; `apt-get install wrk`),
 * which loads a server far harder than autocannon, against three servers taking turns in
 * one run:
 *   1. bare uWebSockets.js answering the same bytes (bench/bare-uws-server.ts): the ceiling;
 *   2. Nereid, add_sub as bundled (default scheduler);
 *   3. Nereid, add_sub with `dynamic_batching { max_queue_delay_microseconds: 100 }`.
 * Each round runs the three in turn (the order reversed every other round); the medians of
 * the rounds' ratios to the ceiling are the figures. wrk runs with 2 threads and reports
 * its own CPU (it shares the cores with the server), and Nereid's CPU per request is the
 * bench process's CPU time over the requests answered (the server runs in-process).
 *
 *   npx tsx bench/http-wrk.ts [--seconds 5] [--rounds 3] [--connections 64] [--threads 2]
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow, median } from './load-generator.js';
import { runWrk, writePostScript, type WrkRun } from './wrk.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const seconds = option('--seconds', 5);
const rounds = option('--rounds', 3);
const connections = option('--connections', 64);
const wrkThreads = option('--threads', 2);

const values = (offset: number) => Array.from({ length: 16 }, (_, i) => i * 0.5 + offset);
const body = JSON.stringify({
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: values(0) },
    { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: values(1) },
  ],
});

const scratch = mkdtempSync(join(tmpdir(), 'nereid-bench-wrk-'));
const repo = join(scratch, 'models');
const addSub = fileURLToPath(new URL('../model_repository/add_sub', import.meta.url));
cpSync(addSub, join(repo, 'add_sub'), { recursive: true });
cpSync(addSub, join(repo, 'add_sub_batched'), { recursive: true });
const batchedConfig = readFileSync(join(addSub, 'config.pbtxt'), 'utf8').replace('name: "add_sub"', 'name: "add_sub_batched"');
writeFileSync(join(repo, 'add_sub_batched', 'config.pbtxt'), `${batchedConfig}\ndynamic_batching { max_queue_delay_microseconds: 100 }\n`);

const script = writePostScript(scratch, 'post-add-sub', body);

const server = await startServer({ modelRepositories: [repo], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false });
const nereidUrl = (model: string) => `http://127.0.0.1:${server.httpPort}/v2/models/${model}/infer`;
const sample = await fetch(nereidUrl('add_sub'), { method: 'POST', body });
const fixedAnswer = await sample.text();
if (sample.status !== 200) throw new Error(`warm-up request failed: ${fixedAnswer}`);
const batchedSample = await fetch(nereidUrl('add_sub_batched'), { method: 'POST', body });
if (batchedSample.status !== 200) throw new Error(`warm-up request failed: ${await batchedSample.text()}`);
await batchedSample.text();

const bare = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./bare-uws-server.ts', import.meta.url)), fixedAnswer], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const barePort = await new Promise<number>((resolve) => bare.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))));

interface WrkResult extends WrkRun {
  /** wrk's own CPU time over the wall-clock time, in % of one core. */
  wrkCpuPercent: number;
  /** The bench process's CPU time per request, in µs (meaningful for the in-process Nereid only). */
  serverCpuUs: number;
}

/** One wrk run against `url`, with the bench process's CPU time per request (the in-process Nereid's). */
async function runWrkOn(url: string): Promise<WrkResult> {
  const cpuBefore = process.cpuUsage();
  const run = await runWrk({ url, script, seconds, threads: wrkThreads, connections });
  const cpu = process.cpuUsage(cpuBefore);
  return { ...run, wrkCpuPercent: (run.cpuSeconds / seconds) * 100, serverCpuUs: (cpu.user + cpu.system) / Math.max(1, run.requests) };
}

const targets = [
  { label: 'bare uWS', url: `http://127.0.0.1:${barePort}/v2/models/add_sub/infer` },
  { label: 'nereid', url: nereidUrl('add_sub') },
  { label: 'nereid batched', url: nereidUrl('add_sub_batched') },
];
const widths = [5, 14, 10, 8, 8, 7, 9, 14, 6];
console.log(
  `http-wrk: add_sub JSON, wrk -t${wrkThreads} -c${connections}, ${seconds}s per point, ${rounds} rounds ` +
    `(batched: dynamic_batching { max_queue_delay_microseconds: 100 })`,
);
console.log(formatRow(['round', 'server', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'wrk CPU%', 'srv CPU µs/req', 'errors'], widths));
const ratios: Array<[number, number]> = [];
const perTarget: WrkResult[][] = [[], [], []];
for (let round = 1; round <= rounds; round++) {
  const order = round % 2 === 1 ? [0, 1, 2] : [2, 1, 0];
  const results: WrkResult[] = [];
  for (const index of order) results[index] = await runWrkOn(targets[index].url);
  const ceiling = results[0].requestsPerSecond;
  ratios.push([results[1].requestsPerSecond / ceiling, results[2].requestsPerSecond / ceiling]);
  results.forEach((result, index) => {
    perTarget[index].push(result);
    console.log(
      formatRow(
        [
          round,
          targets[index].label,
          result.requestsPerSecond.toFixed(0),
          result.p50Ms.toFixed(2),
          result.p99Ms.toFixed(2),
          (result.requestsPerSecond / ceiling).toFixed(2),
          result.wrkCpuPercent.toFixed(0),
          index === 0 ? '-' : result.serverCpuUs.toFixed(1),
          result.errors,
        ],
        widths,
      ),
    );
  });
}
const med = (index: number, pick: (r: WrkResult) => number) => median(perTarget[index].map(pick));
for (const [index, label] of [[1, 'without batching'], [2, 'with dynamic batching']] as const) {
  const roundRatios = ratios.map((pair) => pair[index - 1]);
  console.log(
    `nereid ${label}: median ratio to bare uWS ${median(roundRatios).toFixed(2)} (rounds ${roundRatios.map((r) => r.toFixed(2)).join(', ')}), ` +
      `median ${med(index, (r) => r.requestsPerSecond).toFixed(0)} req/s against ${med(0, (r) => r.requestsPerSecond).toFixed(0)}, ` +
      `server CPU ${med(index, (r) => r.serverCpuUs).toFixed(1)} µs/request, wrk CPU ${med(index, (r) => r.wrkCpuPercent).toFixed(0)} %`,
  );
}

bare.kill();
await server.stop();
rmSync(scratch, { recursive: true, force: true });
