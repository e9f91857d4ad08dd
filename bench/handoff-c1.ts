/**
 * bench/handoff-c1: the worker hand-off alone at concurrency 1, without HTTP: one
 * `simple` instance (onnxruntime worker) executes one small batch after another from the
 * main thread, and each execution's round trip (hand-over to result on the main thread)
 * is timed. Three hand-offs take turns in blocks within one process: the worker parks
 * (NEREID_WORKER_IDLE_SPIN_US=0, no reply wait), the worker spins (default) but the main
 * thread parks (the default), and both wait (NEREID_REPLY_WAIT_US=200, src/backends/reply-wait.ts). Medians and p90
 * per block are printed: on a loaded machine they are far steadier than means, since
 * preemption hits a minority of round trips. Run `npm run build` first.
 *
 *   npx tsx bench/handoff-c1.ts [--executions 4000] [--blocks 4]
 */
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { ExecutionBatch, ModelInstance } from '../src/backends/index.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const executions = option('--executions', 4000);
const blocks = option('--blocks', 4);
const { loadInstance, requestEnded, requestStarted } = (await import(new URL('../dist/backends/index.js', import.meta.url).href)) as typeof import('../src/backends/index.js');
const modelPath = fileURLToPath(new URL('../model_repository/simple/1/model.onnx', import.meta.url));

async function start(env: Record<string, string>): Promise<ModelInstance> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await loadInstance('onnxruntime', {
      modelName: 'simple', version: '1', instanceName: `simple_${Object.values(env).join('_')}`, modelPath,
      config: {} as never, parameters: {}, defaultIntraOpThreads: 1, graphOptimizationLevel: 0,
    });
  } finally {
    process.env = saved;
  }
}

const variants = [
  { label: 'park', instance: await start({ NEREID_WORKER_IDLE_SPIN_US: '0', NEREID_REPLY_WAIT_US: '0' }) },
  { label: 'worker spins', instance: await start({ NEREID_REPLY_WAIT_US: '0' }) },
  { label: 'both wait', instance: await start({ NEREID_REPLY_WAIT_US: '200' }) },
];

function batch(): ExecutionBatch {
  const input = (name: string) => ({ name, datatype: 'INT32' as const, shape: [1, 16], data: new Int32Array(16).fill(3) });
  return { inputs: [input('INPUT0'), input('INPUT1')], outputNames: ['OUTPUT0', 'OUTPUT1'], requests: [{ rows: 1, outputNames: ['OUTPUT0', 'OUTPUT1'] }] };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const results = new Map<string, Array<{ p50: number; p90: number; queue: number }>>();
console.log(`handoff-c1: simple, ${executions} sequential executions per block, ${blocks} blocks per hand-off`);
console.log(['block', 'hand-off', 'p50 µs', 'p90 µs', 'p50 to start µs'].map((h) => h.padStart(14)).join(''));
for (let b = 0; b < blocks; b++) {
  for (const { label, instance } of b % 2 ? [...variants].reverse() : variants) {
    const roundTrips: number[] = [];
    const toStart: number[] = [];
    for (let i = 0; i < executions; i++) {
      requestStarted();
      const sent = performance.now();
      const sentNs = Number(process.hrtime.bigint());
      const result = await instance.execute(batch());
      roundTrips.push((performance.now() - sent) * 1000);
      toStart.push((result.timing.startNs - sentNs) / 1000);
      requestEnded();
    }
    roundTrips.sort((x, y) => x - y);
    toStart.sort((x, y) => x - y);
    const row = { p50: quantile(roundTrips, 0.5), p90: quantile(roundTrips, 0.9), queue: quantile(toStart, 0.5) };
    if (!results.has(label)) results.set(label, []);
    results.get(label)!.push(row);
    console.log([String(b + 1), label, row.p50.toFixed(1), row.p90.toFixed(1), row.queue.toFixed(1)].map((c) => c.padStart(14)).join(''));
  }
}
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
for (const [label, rows] of results) {
  console.log(`${label}: median of blocks: round trip p50 ${median(rows.map((r) => r.p50)).toFixed(1)} µs, p90 ${median(rows.map((r) => r.p90)).toFixed(1)} µs, hand-over to start p50 ${median(rows.map((r) => r.queue)).toFixed(1)} µs`);
}
await Promise.all(variants.map(({ instance }) => instance.close()));
