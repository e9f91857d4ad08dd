/**
 * bench/latency-c1: `simple` over HTTP at concurrency 1 (wrk -t1 -c1, JSON), as
 * perf_analyzer measures it, with the server's own split of each request's time
 * (statistics extension: queue, compute, and the rest, "overhead"). Three servers take
 * turns in one run: model workers that spin briefly for their next command before they
 * park (the default; see src/backends/idle-spin.ts), workers that always park
 * (NEREID_WORKER_IDLE_SPIN_US=0), and spinning workers with a main thread that waits
 * for the reply of a lone execution (NEREID_REPLY_WAIT_US=200, src/backends/reply-wait.ts).
 * Each is a `nereid serve` process of its own (dist/: run `npm run build` first) so that its CPU time can be read: per request under load,
 * and per second once the load has stopped (what spinning costs an idle server).
 *
 *   npx tsx bench/latency-c1.ts [--seconds 5] [--rounds 3] [--spin-us 300]
 * Targets (issue 15): queue ≤ 20 µs and overhead ≤ 41 µs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRow, median } from './load-generator.js';
import { runWrk, writePostScript } from './wrk.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const seconds = option('--seconds', 5);
const rounds = option('--rounds', 3);
const spinMicros = args.includes('--spin-us') ? args[args.indexOf('--spin-us') + 1] : undefined;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const CLOCK_TICKS_PER_SECOND = 100;

const scratch = mkdtempSync(join(tmpdir(), 'nereid-bench-c1-'));
cpSync(fileURLToPath(new URL('../model_repository/simple', import.meta.url)), join(scratch, 'models', 'simple'), { recursive: true });
const body = JSON.stringify({
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, () => 1) },
  ],
});
const script = writePostScript(scratch, 'post-simple', body);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The process's CPU time so far, in µs (utime + stime of /proc/PID/stat). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND) * 1e6;
}

async function startNereid(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--model-repository', join(scratch, 'models'), '--http-port', String(port), '--allow-grpc', 'false', '--allow-metrics', 'false'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    const ready = await fetch(`${url}/v2/health/ready`).then((r) => r.status === 200, () => false);
    if (ready) return { child, url };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('nereid did not become ready');
}

interface Stats {
  success: { count: number; ns: number };
  queue: { count: number; ns: number };
  compute_input: { count: number; ns: number };
  compute_infer: { count: number; ns: number };
  compute_output: { count: number; ns: number };
}
const statsOf = async (url: string): Promise<Stats> => (await (await fetch(`${url}/v2/models/simple/stats`)).json()).model_stats[0].inference_stats;

interface Point {
  requestsPerSecond: number;
  serverUs: number;
  queueUs: number;
  computeUs: number;
  overheadUs: number;
  cpuPerRequestUs: number;
  idleCpuPercent: number;
}

async function measure(env: NodeJS.ProcessEnv): Promise<Point> {
  const { child, url } = await startNereid(env);
  try {
    await runWrk({ url: `${url}/v2/models/simple/infer`, script, seconds: 1, threads: 1, connections: 1 });
    const before = await statsOf(url);
    const cpuBefore = cpuMicros(child.pid!);
    const load = await runWrk({ url: `${url}/v2/models/simple/infer`, script, seconds, threads: 1, connections: 1 });
    const cpuAfter = cpuMicros(child.pid!);
    const after = await statsOf(url);
    // Spinning must stop with the traffic: the CPU the server burns with nothing to do.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleStart = cpuMicros(child.pid!);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idleCpuPercent = ((cpuMicros(child.pid!) - idleStart) / 2e6) * 100;
    const delta = (key: keyof Stats) => {
      const count = after[key].count - before[key].count;
      return (after[key].ns - before[key].ns) / 1e3 / Math.max(1, count);
    };
    const serverUs = delta('success');
    const queueUs = delta('queue');
    const computeUs = delta('compute_input') + delta('compute_infer') + delta('compute_output');
    return {
      requestsPerSecond: load.requestsPerSecond,
      serverUs,
      queueUs,
      computeUs,
      overheadUs: serverUs - queueUs - computeUs,
      cpuPerRequestUs: (cpuAfter - cpuBefore) / Math.max(1, load.requests),
      idleCpuPercent,
    };
  } finally {
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const variants: Array<{ label: string; env: NodeJS.ProcessEnv }> = [
  { label: spinMicros === undefined ? 'spin (default)' : `spin ${spinMicros} µs`, env: spinMicros === undefined ? {} : { NEREID_WORKER_IDLE_SPIN_US: spinMicros } },
  { label: 'park (spin 0)', env: { NEREID_WORKER_IDLE_SPIN_US: '0' } },
  // The main thread waits for the reply of a lone execution (src/backends/reply-wait.ts; off by default).
  { label: 'spin + reply wait', env: { ...(spinMicros === undefined ? {} : { NEREID_WORKER_IDLE_SPIN_US: spinMicros }), NEREID_REPLY_WAIT_US: '200' } },
];
const widths = [5, 15, 8, 10, 9, 11, 11, 13, 11];
console.log(`latency-c1: simple, HTTP JSON, wrk -t1 -c1, ${seconds}s per point, ${rounds} rounds`);
console.log(formatRow(['round', 'workers', 'req/s', 'server µs', 'queue µs', 'compute µs', 'overhead µs', 'CPU µs/req', 'idle CPU %'], widths));
const points: Point[][] = variants.map(() => []);
for (let round = 1; round <= rounds; round++) {
  const order = round % 2 === 1 ? [0, 1, 2] : [2, 1, 0];
  for (const index of order) {
    const point = await measure(variants[index].env);
    points[index].push(point);
    console.log(
      formatRow(
        [
          round,
          variants[index].label,
          point.requestsPerSecond.toFixed(0),
          point.serverUs.toFixed(1),
          point.queueUs.toFixed(1),
          point.computeUs.toFixed(1),
          point.overheadUs.toFixed(1),
          point.cpuPerRequestUs.toFixed(1),
          point.idleCpuPercent.toFixed(1),
        ],
        widths,
      ),
    );
  }
}
const [spin, park, wait] = points.map((list) => (pick: (p: Point) => number) => median(list.map(pick)));
for (const [label, med] of [[variants[0].label, spin], [variants[1].label, park], [variants[2].label, wait]] as const) {
  console.log(
    `${label}: median ${med((p) => p.requestsPerSecond).toFixed(0)} req/s, server ${med((p) => p.serverUs).toFixed(1)} µs ` +
      `(queue ${med((p) => p.queueUs).toFixed(1)}, compute ${med((p) => p.computeUs).toFixed(1)}, overhead ${med((p) => p.overheadUs).toFixed(1)}), ` +
      `CPU ${med((p) => p.cpuPerRequestUs).toFixed(1)} µs/request, idle CPU ${med((p) => p.idleCpuPercent).toFixed(1)} %`,
  );
}
console.log(
  `spin / park: req/s ×${(spin((p) => p.requestsPerSecond) / park((p) => p.requestsPerSecond)).toFixed(2)}, ` +
    `queue ×${(spin((p) => p.queueUs) / park((p) => p.queueUs)).toFixed(2)}, CPU per request ×${(spin((p) => p.cpuPerRequestUs) / park((p) => p.cpuPerRequestUs)).toFixed(2)} ` +
    `(targets: queue ≤ 20 µs, overhead ≤ 41 µs)`,
);
console.log(
  `reply wait / spin: req/s ×${(wait((p) => p.requestsPerSecond) / spin((p) => p.requestsPerSecond)).toFixed(2)}, ` +
    `overhead ×${(wait((p) => p.overheadUs) / spin((p) => p.overheadUs)).toFixed(2)}, CPU per request ×${(wait((p) => p.cpuPerRequestUs) / spin((p) => p.cpuPerRequestUs)).toFixed(2)}`,
);
rmSync(scratch, { recursive: true, force: true });
