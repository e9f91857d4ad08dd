/**
 * bench/ocr: the `ocr` ensemble of examples/ocr (PaddleOCR v4: det, cls, rec) served by
 * Nereid, against @gutenye/ocr-node running the same models in one process, at
 * concurrency 1, 4 and 16, in one run. Each side's load runs in a process of its own
 * (bench/ocr-load-child.ts); the library's side is that process itself. First checks
 * that both read the same text from every image. Prints images/s, p50/p99 latency, the
 * CPU time per image (the library's process; Nereid's process and its load generator's,
 * which on a loaded machine varies far less than throughput) and the mean batch (rows
 * per execution) that ocr_det, ocr_cls and ocr_rec formed. Each point's time is cut into
 * `--rounds` slices that alternate between the library and Nereid (library first), so
 * that on a shared machine both sides see the same changes of load.
 *
 *   npx tsx bench/ocr.ts [--seconds 10] [--rounds 2]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import Ocr from '@gutenye/ocr-node';
import { startServer } from '../src/server/index.js';
import { formatRow } from './load-generator.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback);
const seconds = option('--seconds', 10);
const rounds = Math.max(1, Math.floor(option('--rounds', 2)));
const CONCURRENCY = [1, 4, 16];
const BATCHING_MODELS = ['ocr_det', 'ocr_cls', 'ocr_rec'];
const CHILD = fileURLToPath(new URL('./ocr-load-child.ts', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../examples/ocr', import.meta.url));
// Text the library reads exactly; the upside-down fixture is left out, since the library has no direction classifier.
const IMAGES = ['invoice.png', 'hello-world.png', 'port-ready.jpg'].map((name) => fileURLToPath(new URL(`../test/fixtures/ocr/${name}`, import.meta.url)));

interface Load {
  images: number;
  seconds: number;
  latencies: number[];
  errors: number;
  cpuMs: number;
}

function runLoad(mode: 'server' | 'library', baseUrl: string, connections: number, sliceSeconds: number): Promise<Load> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode, baseUrl, String(connections), String(sliceSeconds), ...IMAGES], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`${mode} load exited with ${code}`)))),
  );
}

/** The slices of one side added up: images/s over their summed time, percentiles over all their latencies. */
function total(loads: Load[]) {
  const latencies = loads.flatMap((l) => l.latencies).sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const images = loads.reduce((sum, l) => sum + l.images, 0);
  return {
    images,
    imagesPerSecond: images / loads.reduce((sum, l) => sum + l.seconds, 0),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors: loads.reduce((sum, l) => sum + l.errors, 0),
    cpuMs: loads.reduce((sum, l) => sum + l.cpuMs, 0),
  };
}

const server = await startServer({
  modelRepositories: [REPOSITORY],
  httpAddress: '127.0.0.1',
  httpPort: 0,
  allowGrpc: false,
  allowMetrics: false,
});
const baseUrl = `http://127.0.0.1:${server.httpPort}`;

async function serverText(path: string): Promise<string[]> {
  const file = readFileSync(path);
  const element = Buffer.alloc(4 + file.length);
  element.writeUInt32LE(file.length, 0);
  file.copy(element, 4);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: element.length } }], outputs: [{ name: 'text' }] }));
  const res = await fetch(`${baseUrl}/v2/models/ocr/infer`, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(header.length) },
    body: new Uint8Array(Buffer.concat([header, element])),
  });
  const json = JSON.parse(await res.text());
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}: ${json.error}`);
  return json.outputs[0].data;
}

// The library joins boxes on one line into one text; every line of these images is one box.
const library = await Ocr.create();
let same = true;
for (const path of IMAGES) {
  const ours = await serverText(path);
  const theirs = (await library.detect(path)).map((line: { text: string }) => line.text);
  const agree = JSON.stringify(ours) === JSON.stringify(theirs);
  same &&= agree;
  console.log(`${agree ? 'same text' : 'DIFFERENT'}: ${path.split('/').pop()}: nereid ${JSON.stringify(ours)}, library ${JSON.stringify(theirs)}`);
}

function snapshot(): Map<string, [number, number]> {
  return new Map(BATCHING_MODELS.map((name) => {
    const stats = server.registry.resolve(name).statistics;
    return [name, [stats.executionCount, stats.inferenceCount]];
  }));
}
function meanBatches(before: Map<string, [number, number]>): string {
  return BATCHING_MODELS.map((name) => {
    const stats = server.registry.resolve(name).statistics;
    const [executions, rows] = before.get(name)!;
    const count = stats.executionCount - executions;
    return count === 0 ? '-' : ((stats.inferenceCount - rows) / count).toFixed(1);
  }).join('/');
}

console.log(`ocr: ${IMAGES.length} images in turn, ${seconds}s per point and side in ${rounds} alternating slices, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the start`);
const widths = [4, 10, 14, 10, 14, 7, 16, 20, 12];
console.log(formatRow(['conc', 'library/s', 'p50/p99 ms', 'nereid/s', 'p50/p99 ms', 'ratio', 'CPU ms/img l/n', 'batch det/cls/rec', 'errors l/n'], widths));
for (const connections of CONCURRENCY) {
  const library: Load[] = [];
  const nereid: Load[] = [];
  const before = snapshot();
  let serverCpuMs = 0;
  for (let round = 0; round < rounds; round++) {
    library.push(await runLoad('library', '-', connections, seconds / rounds));
    const cpuBefore = process.cpuUsage();
    nereid.push(await runLoad('server', baseUrl, connections, seconds / rounds));
    const cpu = process.cpuUsage(cpuBefore);
    serverCpuMs += (cpu.user + cpu.system) / 1000;
  }
  const theirs = total(library);
  const ours = total(nereid);
  const ourCpuMs = serverCpuMs + ours.cpuMs;
  console.log(
    formatRow(
      [
        connections,
        theirs.imagesPerSecond.toFixed(1),
        `${theirs.p50Ms.toFixed(0)}/${theirs.p99Ms.toFixed(0)}`,
        ours.imagesPerSecond.toFixed(1),
        `${ours.p50Ms.toFixed(0)}/${ours.p99Ms.toFixed(0)}`,
        (ours.imagesPerSecond / theirs.imagesPerSecond).toFixed(2),
        `${(theirs.cpuMs / theirs.images).toFixed(0)}/${(ourCpuMs / ours.images).toFixed(0)}`,
        meanBatches(before),
        `${theirs.errors}/${ours.errors}`,
      ],
      widths,
    ),
  );
}
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end; texts ${same ? 'the same' : 'DIFFER'}`);
await server.stop();
process.exit(0);
