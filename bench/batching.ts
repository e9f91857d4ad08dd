/**
 * bench/batching: what dynamic batching buys on the compute-bound `mlp` model, all in
 * one run (the machines are shared and noisy, so only ratios within a run count):
 *   1. ceiling: in-process session.run on batches of the best size, no server, with as
 *      many intra-op threads as Nereid's one mlp instance gets;
 *   2. naive: node:http, JSON, one session.run per request on the main thread;
 *   3. Nereid without dynamic batching (the committed mlp config);
 *   4. Nereid with dynamic batching (preferred sizes and a small delay).
 * Requests are one row each: binary tensor data to Nereid (inputs and outputs), JSON to
 * the naive server, whose point is to do the obvious thing. The load generator
 * (autocannon) runs in its own process and reports its CPU use.
 *
 * Each concurrency is measured in several rounds (the servers' order reversed every other
 * round) and the medians are the figures: single runs on a shared 2-core machine swing
 * by a quarter. Each point also reports the CPU time per inference of the server
 * process (all its threads) and of the load generator.
 *
 *   npx tsx bench/batching.ts [--seconds 5] [--rounds 3] [--concurrency 1,8,32,64,128]
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { defaultIntraOpThreads } from '../src/repository/index.js';
import { startServer } from '../src/server/index.js';
import { formatRow, median, runLoad, type LoadResult } from './load-generator.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 5) || 5;
const roundCount = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 3;
const CONCURRENCY = args.includes('--concurrency') ? args[args.indexOf('--concurrency') + 1].split(',').map(Number) : [1, 8, 32, 64, 128];
const CEILING_BATCHES = [16, 32, 64, 128];
const BATCHING = 'dynamic_batching { preferred_batch_size: [ 32, 64, 128 ] max_queue_delay_microseconds: 500 }';

const MLP = fileURLToPath(new URL('../model_repository/mlp', import.meta.url));
const MODEL_FILE = join(MLP, '1', 'model.onnx');
const threads = defaultIntraOpThreads(1);
const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

const row = Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.37));
const jsonBody = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], data: row }] });

/** Triton's binary tensor data: a JSON header, then the raw little-endian bytes. */
function binaryRequest(): { body: Buffer; headers: Record<string, string> } {
  const raw = Buffer.from(Float32Array.from(row).buffer);
  const header = JSON.stringify({
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], parameters: { binary_data_size: raw.length } }],
    outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
  });
  return { body: Buffer.concat([Buffer.from(header), raw]), headers: { 'inference-header-content-length': String(Buffer.byteLength(header)) } };
}
const binary = binaryRequest();

/** Rows per second of back-to-back session.run calls on batches of `rows`, and each call's latency. */
async function ceiling(session: ort.InferenceSession, rows: number): Promise<{ rowsPerSecond: number; p50Ms: number; p99Ms: number }> {
  const input = new ort.Tensor('float32', new Float32Array(rows * 256).fill(0.25), [rows, 256]);
  for (let i = 0; i < 5; i++) await session.run({ INPUT0: input });
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + Math.min(seconds, 3) * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    await session.run({ INPUT0: input });
    latencies.push(performance.now() - t0);
  }
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { rowsPerSecond: (latencies.length * rows) / elapsed, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** The "catastrophically inefficient" baseline: JSON in, session.run on the main thread, JSON out. */
async function naiveServer(session: ort.InferenceSession): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const [input] = request.inputs;
      const feeds = { INPUT0: new ort.Tensor('float32', Float32Array.from(input.data), input.shape) };
      const result = await session.run(feeds);
      const output = result.OUTPUT0;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          model_name: 'mlp',
          model_version: '1',
          outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: output.dims, data: Array.from(output.data as Float32Array) }],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/v2/models/mlp/infer` };
}

interface Target {
  url: string;
  body: string | Buffer;
  contentType: string;
  headers?: Record<string, string>;
}

async function warmUp({ url, body, headers }: Target): Promise<void> {
  const response = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
  if (response.status !== 200) throw new Error(`warm-up request to ${url} failed: ${await response.text()}`);
}

async function bestCeiling(session: ort.InferenceSession): Promise<{ rows: number; rowsPerSecond: number; p50Ms: number; p99Ms: number }> {
  let best = { rows: 0, rowsPerSecond: 0, p50Ms: 0, p99Ms: 0 };
  for (const rows of CEILING_BATCHES) {
    const result = await ceiling(session, rows);
    if (result.rowsPerSecond > best.rowsPerSecond) best = { rows, ...result };
  }
  return best;
}

const session = await ort.InferenceSession.create(MODEL_FILE, sessionOptions);
const ceilingBefore = await bestCeiling(session);

const naive = await naiveServer(session);
const repo = mkdtempSync(join(tmpdir(), 'nereid-bench-batching-'));
const plainConfig = readFileSync(join(MLP, 'config.pbtxt'), 'utf8');
cpSync(MLP, join(repo, 'mlp'), { recursive: true });
cpSync(MLP, join(repo, 'mlp_batched'), { recursive: true });
writeFileSync(join(repo, 'mlp_batched', 'config.pbtxt'), `${plainConfig.replace('name: "mlp"', 'name: "mlp_batched"')}${BATCHING}\n`);
const server = await startServer({ modelRepositories: [repo], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false });
const base = `http://127.0.0.1:${server.httpPort}/v2/models`;
const nereid = (model: string): Target => ({ url: `${base}/${model}/infer`, body: binary.body, contentType: 'application/octet-stream', headers: binary.headers });
const targets: Target[] = [{ url: naive.url, body: jsonBody, contentType: 'application/json' }, nereid('mlp'), nereid('mlp_batched')];
for (const target of targets) await warmUp(target);

// The three servers take turns at each concurrency, so that the figures of one row are
// measured close together in time, whatever else the machine is doing; the order is
// reversed every other round, and the medians of the rounds are the figures.
interface Measured extends LoadResult {
  /** CPU time of this process (the servers and their model workers) per inference, in µs. */
  serverCpuUs: number;
  /** CPU time of the load generator per inference, in µs. */
  generatorCpuUs: number;
  /** The part of serverCpuUs spent on the main thread, in µs. */
  mainThreadCpuUs: number;
}
/** CPU time of this process's main thread (the servers' sockets, codecs and schedulers; not the model workers), in µs. */
function mainThreadCpuUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}
async function measure(target: Target, connections: number): Promise<Measured> {
  const before = process.cpuUsage();
  const mainBefore = mainThreadCpuUs();
  const result = await runLoad({ ...target, connections, seconds });
  const cpu = process.cpuUsage(before);
  const mainCpu = mainThreadCpuUs() - mainBefore;
  const inferences = Math.max(1, result.requestsPerSecond * seconds);
  return {
    ...result,
    serverCpuUs: (cpu.user + cpu.system) / inferences,
    mainThreadCpuUs: mainCpu / inferences,
    generatorCpuUs: (result.generatorCpuPercent / 100) * 1e6 / Math.max(1, result.requestsPerSecond),
  };
}
const rounds: Measured[][][] = [];
for (const connections of CONCURRENCY) {
  const perRound: Measured[][] = [];
  for (let round = 0; round < roundCount; round++) {
    const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
    const row: Measured[] = [];
    for (const index of order) row[index] = await measure(targets[index], connections);
    perRound.push(row);
  }
  rounds.push(perRound);
}
const statistics = server.registry.resolve('mlp_batched').statistics;
await server.stop();
naive.server.close();
rmSync(repo, { recursive: true, force: true });
const ceilingAfter = await bestCeiling(session);
await session.release();
const best = ceilingAfter.rowsPerSecond > ceilingBefore.rowsPerSecond ? ceilingAfter : ceilingBefore;

console.log(
  `batching: mlp, one row per request (Nereid: binary tensor data; naive: JSON), ${seconds}s per point, ${roundCount} rounds, ${threads} intra-op thread(s) per instance`,
);
console.log(
  `ceiling: session.run on batches of ${best.rows}: ${best.rowsPerSecond.toFixed(0)} inferences/s ` +
    `(p50 ${best.p50Ms.toFixed(2)} ms, p99 ${best.p99Ms.toFixed(2)} ms per batch; ` +
    `${ceilingBefore.rowsPerSecond.toFixed(0)} before the servers ran, ${ceilingAfter.rowsPerSecond.toFixed(0)} after)`,
);
console.log(`Nereid with batching: ${BATCHING}`);
const widths = [4, 5, 9, 10, 10, 13, 16, 15, 16, 16, 6, 6, 7, 6];
const header = ['conc', 'round', 'naive/s', 'no-batch/s', 'batched/s', 'naive p50/p99', 'no-batch p50/p99', 'batched p50/p99', 'srv CPU µs n/u/b', 'gen CPU µs n/u/b', 'b/ceil', 'b/unb', 'b/naive', 'errors'];
const triple = (rows: Measured[], pick: (r: Measured) => number) => rows.map((r) => pick(r).toFixed(0)).join('/');
const cells = (connections: number, label: string, [n, u, b]: Measured[], ratios: [number, number, number], errors: number) => [
  connections,
  label,
  n.requestsPerSecond.toFixed(0),
  u.requestsPerSecond.toFixed(0),
  b.requestsPerSecond.toFixed(0),
  `${n.p50Ms}/${n.p99Ms}`,
  `${u.p50Ms}/${u.p99Ms}`,
  `${b.p50Ms}/${b.p99Ms}`,
  triple([n, u, b], (r) => r.serverCpuUs),
  triple([n, u, b], (r) => r.generatorCpuUs),
  ...ratios.map((ratio) => ratio.toFixed(2)),
  errors,
];
const ratiosOf = ([n, u, b]: Measured[]): [number, number, number] => [
  b.requestsPerSecond / best.rowsPerSecond,
  b.requestsPerSecond / u.requestsPerSecond,
  b.requestsPerSecond / n.requestsPerSecond,
];
/** Each field's median over the rounds, one server at a time. */
const medianOf = (perRound: Measured[][], server: number): Measured => {
  const field = (pick: (r: Measured) => number) => median(perRound.map((row) => pick(row[server])));
  return {
    requestsPerSecond: field((r) => r.requestsPerSecond),
    p50Ms: field((r) => r.p50Ms),
    p99Ms: field((r) => r.p99Ms),
    errors: field((r) => r.errors),
    generatorCpuPercent: field((r) => r.generatorCpuPercent),
    serverCpuUs: field((r) => r.serverCpuUs),
    generatorCpuUs: field((r) => r.generatorCpuUs),
    mainThreadCpuUs: field((r) => r.mainThreadCpuUs),
  };
};
console.log(formatRow(header, widths));
const medianRows: Measured[][] = [];
CONCURRENCY.forEach((connections, i) => {
  const perRound = rounds[i];
  perRound.forEach((row, round) => {
    const errors = row.reduce((sum, r) => sum + r.errors, 0);
    console.log(formatRow(cells(connections, String(round + 1), row, ratiosOf(row), errors), widths));
  });
  const medians = [0, 1, 2].map((server) => medianOf(perRound, server));
  medianRows.push(medians);
  const ratios = perRound.map(ratiosOf);
  const medianRatios = [0, 1, 2].map((k) => median(ratios.map((r) => r[k]))) as [number, number, number];
  const errors = perRound.reduce((sum, row) => sum + row.reduce((s, r) => s + r.errors, 0), 0);
  console.log(formatRow(cells(connections, 'med', medians, medianRatios, errors), widths));
});
// What two cores allow: an inference costs the server and the load generator, which share
// the machine, their CPU time together; no server reaches more than cores / that cost.
const cores = availableParallelism();
const at64 = CONCURRENCY.indexOf(64);
if (at64 >= 0) {
  const [naiveMedian, , batchedMedian] = medianRows[at64];
  const perInference = batchedMedian.serverCpuUs + batchedMedian.generatorCpuUs;
  console.log(
    `CPU at concurrency 64, batched: ${batchedMedian.serverCpuUs.toFixed(0)} µs (server: ${batchedMedian.mainThreadCpuUs.toFixed(0)} main thread, ` +
      `${(batchedMedian.serverCpuUs - batchedMedian.mainThreadCpuUs).toFixed(0)} model worker and helper threads; target ≤ 35) + ${batchedMedian.generatorCpuUs.toFixed(0)} µs (load generator) ` +
      `per inference: ${cores} cores allow at most ${((cores * 1e6) / perInference).toFixed(0)} inferences/s at that cost ` +
      `(5 × naive is ${(5 * naiveMedian.requestsPerSecond).toFixed(0)}, 0.85 × ceiling ${(0.85 * best.rowsPerSecond).toFixed(0)})`,
  );
}
const sizes = statistics.batchStatistics();
const mean = statistics.inferenceCount / Math.max(1, statistics.executionCount);
console.log(
  `batched: ${statistics.executionCount} executions, mean ${mean.toFixed(1)} rows, largest ${sizes.length ? sizes[sizes.length - 1].batchSize : 0}`,
);
