/**
 * bench/heavy-model: batched throughput of the compute-heavy `convnet` model through
 * Nereid against in-process ONNX Runtime at the same intra-op thread count, in one run.
 *   1. ceiling: session.run back to back on batches of the best size (16, 32 or 64 rows),
 *      no server, as many intra-op threads as Nereid gives its one convnet instance;
 *   2. Nereid: one-row requests with binary tensor data over HTTP (autocannon in its own
 *      process), convnet with dynamic batching.
 * The two alternate for several rounds (the machine is shared and noisy); the ratio of
 * each round is Nereid's rows/s over the ceiling measured just before it, and the figure
 * is the median of the rounds' ratios. Target: ≥ 0.85.
 *   npx tsx bench/heavy-model.ts [--seconds 5] [--rounds 3] [--concurrency 64]
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { CONVNET_CHANNELS, CONVNET_SIZE } from '../model_repository/convnet-weights.js';
import { defaultIntraOpThreads } from '../src/repository/index.js';
import { startServer } from '../src/server/index.js';
import { formatRow, median, runLoad } from './load-generator.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const seconds = option('--seconds', 5);
const roundCount = option('--rounds', 3);
const connections = option('--concurrency', 64);
const CEILING_BATCHES = [16, 32, 64];
const BATCHING = 'dynamic_batching { preferred_batch_size: [ 16, 32, 64 ] max_queue_delay_microseconds: 2000 }';
const PIXELS = CONVNET_CHANNELS * CONVNET_SIZE * CONVNET_SIZE;

const CONVNET = fileURLToPath(new URL('../model_repository/convnet', import.meta.url));
const threads = defaultIntraOpThreads(1);
const session = await ort.InferenceSession.create(join(CONVNET, '1', 'model.onnx'), {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

const image = Float32Array.from({ length: PIXELS }, (_, i) => Math.sin(i * 0.37));

/** Rows per second of back-to-back session.run calls on batches of `rows`. */
async function ceilingAt(rows: number, ms: number): Promise<number> {
  const batch = new Float32Array(rows * PIXELS);
  for (let r = 0; r < rows; r++) batch.set(image, r * PIXELS);
  const input = new ort.Tensor('float32', batch, [rows, CONVNET_CHANNELS, CONVNET_SIZE, CONVNET_SIZE]);
  for (let i = 0; i < 2; i++) await session.run({ INPUT0: input });
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await session.run({ INPUT0: input });
    runs++;
  }
  return (runs * rows * 1000) / (performance.now() - start);
}

async function ceiling(): Promise<{ rows: number; rowsPerSecond: number }> {
  let best = { rows: 0, rowsPerSecond: 0 };
  for (const rows of CEILING_BATCHES) {
    const rowsPerSecond = await ceilingAt(rows, (seconds * 1000) / CEILING_BATCHES.length);
    if (rowsPerSecond > best.rowsPerSecond) best = { rows, rowsPerSecond };
  }
  return best;
}

const repo = mkdtempSync(join(tmpdir(), 'nereid-bench-heavy-'));
cpSync(CONVNET, join(repo, 'convnet'), { recursive: true });
writeFileSync(join(repo, 'convnet', 'config.pbtxt'), `${readFileSync(join(CONVNET, 'config.pbtxt'), 'utf8')}\n${BATCHING}\n`);
const server = await startServer({ modelRepositories: [repo], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false, allowMetrics: false });
const url = `http://127.0.0.1:${server.httpPort}/v2/models/convnet/infer`;
const raw = Buffer.from(image.buffer);
const header = JSON.stringify({
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, CONVNET_CHANNELS, CONVNET_SIZE, CONVNET_SIZE], parameters: { binary_data_size: raw.length } }],
  outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
});
const target = {
  url,
  body: Buffer.concat([Buffer.from(header), raw]),
  contentType: 'application/octet-stream',
  headers: { 'inference-header-content-length': String(Buffer.byteLength(header)) },
};
const warm = await fetch(url, { method: 'POST', body: new Uint8Array(target.body), headers: target.headers });
if (warm.status !== 200) throw new Error(`warm-up request failed: ${await warm.text()}`);
// One second of load first, so that the first round does not pay for the server's warm-up.
await runLoad({ ...target, connections, seconds: 1 });

console.log(`heavy-model: convnet (3×32×32 → 10, ~30 M multiply-adds per row), one row per request, binary tensor data over HTTP, c=${connections}`);
console.log(`${threads} intra-op thread(s) for Nereid's one instance and for the in-process ceiling; ${seconds}s per point, ${roundCount} rounds`);
console.log(`Nereid: ${BATCHING}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
const statistics = server.registry.resolve('convnet').statistics;
/** The worker's time in executions (input, inference, output) and in inference alone, in ns, and the rows it ran. */
function workerTotals(): { busyNs: number; inferNs: number; rows: number } {
  let busyNs = 0;
  let inferNs = 0;
  for (const batch of statistics.batchStatistics()) {
    busyNs += batch.computeInput.ns + batch.computeInfer.ns + batch.computeOutput.ns;
    inferNs += batch.computeInfer.ns;
  }
  return { busyNs, inferNs, rows: statistics.inferenceCount };
}
/** CPU time of this process's main thread (the server's sockets, codecs and scheduler), in µs. */
function mainThreadCpuUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}
// Where a ratio below 1 comes from: `worker busy` is the share of the wall time the model's
// worker spent in executions (the rest it waited for the main thread); `infer/ceil` is its
// inference time per row against the ceiling's (above 1: its core was shared, not idle).
const widths = [5, 14, 10, 10, 10, 10, 12, 12, 6, 11, 10, 6];
console.log(
  formatRow(['round', 'ceiling rows/s', 'best batch', 'nereid/s', 'p50 ms', 'p99 ms', 'srv CPU µs', 'main CPU µs', 'errors', 'worker busy', 'infer/ceil', 'ratio'], widths),
);
const ratios: number[] = [];
for (let round = 0; round < roundCount; round++) {
  const best = await ceiling();
  const before = process.cpuUsage();
  const mainBefore = mainThreadCpuUs();
  const workerBefore = workerTotals();
  const startMs = performance.now();
  const result = await runLoad({ ...target, connections, seconds });
  const wallMs = performance.now() - startMs;
  const cpu = process.cpuUsage(before);
  const mainCpu = mainThreadCpuUs() - mainBefore;
  const worker = workerTotals();
  const rows = Math.max(1, worker.rows - workerBefore.rows);
  const ratio = result.requestsPerSecond / best.rowsPerSecond;
  ratios.push(ratio);
  const busy = (worker.busyNs - workerBefore.busyNs) / 1e6 / wallMs;
  const inferPerRowUs = (worker.inferNs - workerBefore.inferNs) / 1e3 / rows;
  console.log(
    formatRow(
      [
        round + 1,
        best.rowsPerSecond.toFixed(0),
        best.rows,
        result.requestsPerSecond.toFixed(0),
        result.p50Ms,
        result.p99Ms,
        ((cpu.user + cpu.system) / rows).toFixed(0),
        (mainCpu / rows).toFixed(0),
        result.errors,
        `${(busy * 100).toFixed(0)}%`,
        (inferPerRowUs / (1e6 / best.rowsPerSecond)).toFixed(2),
        ratio.toFixed(2),
      ],
      widths,
    ),
  );
}
console.log(`Nereid ran ${statistics.inferenceCount} rows in ${statistics.executionCount} executions (${(statistics.inferenceCount / statistics.executionCount).toFixed(1)} rows per batch)`);
console.log(`median ratio Nereid / in-process ONNX Runtime: ${median(ratios).toFixed(2)} (target ≥ 0.85)`);
await server.stop();
await session.release();
rmSync(repo, { recursive: true, force: true });
