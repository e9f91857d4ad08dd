/**
 * bench/ocr-steps: where the `ocr` ensemble's time goes, step by step. Serves
 * examples/ocr, loads it from a child process (bench/ocr-load-child.ts) at each
 * concurrency given, and prints per step, from the statistics the /v2/models/stats
 * extension reports: requests and executions per image, the mean batch (rows per
 * execution), the mean time a request waited in the step's queue, and the compute
 * time of the step's executions per image (wall time inside the instance: on a loaded
 * machine it includes the time the thread waited for a core). Then the CPU time per
 * image of the server's process and of the load generator's.
 *
 *   npx tsx bench/ocr-steps.ts [--seconds 10] [--concurrency 1,16]
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow } from './load-generator.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const seconds = Number(option('--seconds', '10'));
const concurrencies = option('--concurrency', '1,16').split(',').map(Number);
const CHILD = fileURLToPath(new URL('./ocr-load-child.ts', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../examples/ocr', import.meta.url));
const IMAGES = ['invoice.png', 'hello-world.png', 'port-ready.jpg'].map((name) => fileURLToPath(new URL(`../test/fixtures/ocr/${name}`, import.meta.url)));
const STEPS = ['ocr', 'ocr_preprocess', 'ocr_det', 'ocr_boxes', 'ocr_cls', 'ocr_recognize', 'ocr_rec'];

interface Load {
  images: number;
  imagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuMs: number;
}

function runLoad(baseUrl: string, connections: number): Promise<Load> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'server', baseUrl, String(connections), String(seconds), ...IMAGES], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`load exited with ${code}`)))),
  );
}

const server = await startServer({ modelRepositories: [REPOSITORY], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false, allowMetrics: false });
const baseUrl = `http://127.0.0.1:${server.httpPort}`;

interface StepFigures {
  requests: number;
  executions: number;
  rows: number;
  queueNs: number;
  computeNs: number;
}

async function stepFigures(): Promise<Map<string, StepFigures>> {
  const stats = (await (await fetch(`${baseUrl}/v2/models/stats`)).json()) as { model_stats: any[] };
  const figures = new Map<string, StepFigures>();
  for (const model of stats.model_stats) {
    const s = model.inference_stats;
    const computeNs = (model.batch_stats as any[]).reduce(
      (sum, b) => sum + Number(b.compute_input.ns) + Number(b.compute_infer.ns) + Number(b.compute_output.ns),
      0,
    );
    figures.set(model.name, {
      requests: Number(s.success.count),
      executions: Number(model.execution_count),
      rows: Number(model.inference_count),
      queueNs: Number(s.queue.ns),
      computeNs,
    });
  }
  return figures;
}

console.log(`ocr steps: ${IMAGES.length} images in turn, ${seconds}s per point, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const widths = [15, 10, 10, 8, 10, 14];
for (const connections of concurrencies) {
  const before = await stepFigures();
  const cpuBefore = process.cpuUsage();
  const load = await runLoad(baseUrl, connections);
  const cpu = process.cpuUsage(cpuBefore);
  const after = await stepFigures();
  const images = load.images;
  console.log(
    `\nconcurrency ${connections}: ${load.imagesPerSecond.toFixed(1)} images/s, p50/p99 ${load.p50Ms.toFixed(0)}/${load.p99Ms.toFixed(0)} ms, ` +
      `CPU ms/image server ${((cpu.user + cpu.system) / 1000 / images).toFixed(1)} + load generator ${(load.cpuMs / images).toFixed(1)}, ` +
      `errors ${load.errors}, load average ${loadavg()[0].toFixed(1)}`,
  );
  console.log(formatRow(['step', 'req/img', 'exec/img', 'batch', 'queue ms', 'compute ms/img'], widths));
  for (const step of STEPS) {
    const a = after.get(step);
    const b = before.get(step);
    if (!a || !b) continue;
    const requests = a.requests - b.requests;
    const executions = a.executions - b.executions;
    console.log(
      formatRow(
        [
          step,
          (requests / images).toFixed(2),
          (executions / images).toFixed(2),
          executions ? ((a.rows - b.rows) / executions).toFixed(1) : '-',
          requests ? ((a.queueNs - b.queueNs) / requests / 1e6).toFixed(1) : '-',
          ((a.computeNs - b.computeNs) / images / 1e6).toFixed(1),
        ],
        widths,
      ),
    );
  }
}
await server.stop();
process.exit(0);
