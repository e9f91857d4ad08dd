/**
 * bench/ensemble: the `sentiment` ensemble (one request: tokenizer → sentiment_onnx →
 * postprocessor inside the server) against the client calling the three models itself
 * in sequence, at concurrency 1 and 64, in one run. Both use the committed example
 * models as they are (each with its own dynamic batcher) on one in-process server; the
 * load generator (autocannon, bench/sentiment-load-child.ts) runs in its own process.
 * Throughput counts answers (labels), latency is that of a whole answer. The server's
 * CPU time per answer (its main thread and model workers together) is also printed: on
 * a shared machine it varies far less than throughput does.
 *
 *   npx tsx bench/ensemble.ts [--seconds 5]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow, type LoadResult } from './load-generator.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 5) || 5;
const CONCURRENCY = [1, 64];
const STEPS = ['tokenizer', 'sentiment_onnx', 'postprocessor'];
const CHILD = fileURLToPath(new URL('./sentiment-load-child.ts', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../model_repository', import.meta.url));

interface Measured extends LoadResult {
  serverCpuUsPerAnswer: number;
}

async function runSentimentLoad(baseUrl: string, mode: 'ensemble' | 'client', connections: number): Promise<Measured> {
  const cpuBefore = process.cpuUsage();
  const result = await spawnLoad(baseUrl, mode, connections);
  const cpu = process.cpuUsage(cpuBefore);
  return { ...result, serverCpuUsPerAnswer: (cpu.user + cpu.system) / (result.requestsPerSecond * seconds) };
}

function spawnLoad(baseUrl: string, mode: 'ensemble' | 'client', connections: number): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, baseUrl, mode, String(connections), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`load generator exited with ${code}`)))),
  );
}

const server = await startServer({
  modelRepositories: [REPOSITORY],
  modelControlMode: 'explicit',
  loadModels: ['sentiment'],
  httpAddress: '127.0.0.1',
  httpPort: 0,
  allowGrpc: false,
});
const baseUrl = `http://127.0.0.1:${server.httpPort}`;
const warmUp = await fetch(`${baseUrl}/v2/models/sentiment/infer`, {
  method: 'POST',
  body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1, 1], data: ['a fine warm-up'] }] }),
});
if (warmUp.status !== 200) throw new Error(`warm-up request failed: ${await warmUp.text()}`);

/** Mean rows per execution of each step model since `before`, to show the batching each run got. */
function batching(before: Map<string, [number, number]>): string {
  return STEPS.map((name) => {
    const stats = server.registry.resolve(name).statistics;
    const [executions, rows] = before.get(name)!;
    const count = stats.executionCount - executions;
    return count === 0 ? '-' : ((stats.inferenceCount - rows) / count).toFixed(1);
  }).join('/');
}
const snapshot = () => new Map(STEPS.map((name) => {
  const stats = server.registry.resolve(name).statistics;
  return [name, [stats.executionCount, stats.inferenceCount] as [number, number]];
}));

const widths = [4, 12, 14, 12, 14, 7, 7, 13, 16, 16, 11];
console.log(`ensemble: sentiment, JSON bodies, ${seconds}s per point; rows/exec = mean rows per execution of tokenizer/sentiment_onnx/postprocessor`);
console.log(formatRow(['conc', 'ensemble/s', 'p50/p99 ms', 'client/s', 'p50/p99 ms', 'ratio', 'p50 x', 'CPU µs e/c', 'ens rows/exec', 'cli rows/exec', 'gen CPU %'], widths));
for (const connections of CONCURRENCY) {
  const ensembleBefore = snapshot();
  const ensemble = await runSentimentLoad(baseUrl, 'ensemble', connections);
  const ensembleBatching = batching(ensembleBefore);
  const clientBefore = snapshot();
  const client = await runSentimentLoad(baseUrl, 'client', connections);
  const clientBatching = batching(clientBefore);
  if (ensemble.errors + client.errors > 0) console.log(`  (errors: ensemble ${ensemble.errors}, client ${client.errors})`);
  console.log(
    formatRow(
      [
        connections,
        ensemble.requestsPerSecond.toFixed(0),
        `${ensemble.p50Ms.toFixed(2)}/${ensemble.p99Ms.toFixed(2)}`,
        client.requestsPerSecond.toFixed(0),
        `${client.p50Ms.toFixed(2)}/${client.p99Ms.toFixed(2)}`,
        (ensemble.requestsPerSecond / client.requestsPerSecond).toFixed(2),
        (client.p50Ms / ensemble.p50Ms).toFixed(2),
        `${ensemble.serverCpuUsPerAnswer.toFixed(0)}/${client.serverCpuUsPerAnswer.toFixed(0)}`,
        ensembleBatching,
        clientBatching,
        `${ensemble.generatorCpuPercent.toFixed(0)}/${client.generatorCpuPercent.toFixed(0)}`,
      ],
      widths,
    ),
  );
}
await server.stop();
