/**
 * bench/grpc-latency: latency at concurrency 1 of unary gRPC ModelInfer against HTTP/1.1
 * (binary tensor data) on `simple`, the two alternating in blocks within one run (the
 * machine is shared: only side-by-side figures compare). The client runs in its own
 * process and is as thin on both protocols as perf_analyzer (prepared request bytes,
 * node:net and node:http2), so the ratio is the servers'. `srv CPU µs` is this process's
 * CPU time (the server and its model worker) per request. Target: gRPC/HTTP ≤ 1.2.
 *   npx tsx bench/grpc-latency.ts [--blocks 10] [--block 500]
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { messageType } from '../src/server/grpc/grpc-messages.js';
import { formatRow, median } from './load-generator.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const blocks = option('--blocks', 10);
const blockSize = option('--block', 500);

const repo = mkdtempSync(join(tmpdir(), 'nereid-bench-latency-'));
cpSync(fileURLToPath(new URL('../model_repository/simple', import.meta.url)), join(repo, 'simple'), { recursive: true });
const server = await startServer({
  modelRepositories: [repo],
  httpAddress: '127.0.0.1',
  httpPort: 0,
  grpcAddress: '127.0.0.1',
  grpcPort: 0,
  allowMetrics: false,
});

const a = Int32Array.from({ length: 16 }, (_, i) => i);
const b = Int32Array.from({ length: 16 }, () => 1);
const raw = [Buffer.from(a.buffer), Buffer.from(b.buffer)];
const header = JSON.stringify({
  inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } })),
  outputs: ['OUTPUT0', 'OUTPUT1'].map((name) => ({ name, parameters: { binary_data: true } })),
});
const body = Buffer.concat([Buffer.from(header), ...raw]);
const httpRequest = Buffer.concat([
  Buffer.from(
    `POST /v2/models/simple/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n` +
      `Inference-Header-Content-Length: ${Buffer.byteLength(header)}\r\nContent-Length: ${body.length}\r\n\r\n`,
  ),
  body,
]);
const grpcMessage = messageType('ModelInferRequest')
  .encode({
    model_name: 'simple',
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16] })),
    raw_input_contents: raw,
  })
  .finish() as Buffer;

const child = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('./latency-client-child.ts', import.meta.url)), String(server.httpPort), String(server.grpcPort), httpRequest.toString('base64'), grpcMessage.toString('base64')],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();

interface Block {
  latencies: number[];
  /** Server (this process, all threads) CPU µs per request. */
  cpuUs: number;
  clientCpuUs: number;
}

async function block(protocol: 'http' | 'grpc', count: number): Promise<Block> {
  const before = process.cpuUsage();
  child.stdin.write(`${protocol} ${count}\n`);
  const { value, done } = await answers.next();
  if (done) throw new Error('the client exited');
  const cpu = process.cpuUsage(before);
  const answer = JSON.parse(value) as { latencies: number[]; clientCpuUs: number };
  return { ...answer, cpuUs: (cpu.user + cpu.system) / count };
}

await block('http', 200);
await block('grpc', 200);

const all = { http: [] as number[], grpc: [] as number[] };
const cpu = { http: [] as number[], grpc: [] as number[] };
const clientCpu = { http: [] as number[], grpc: [] as number[] };
const ratios: number[] = [];
console.log(`grpc-latency: simple, concurrency 1, ${blocks} blocks of ${blockSize} requests per protocol, alternating`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
const widths = [5, 12, 12, 9, 9, 16, 16, 10];
console.log(formatRow(['block', 'http avg µs', 'grpc avg µs', 'http p50', 'grpc p50', 'srv CPU µs h/g', 'client CPU h/g', 'avg ratio'], widths));
const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
for (let k = 0; k < blocks; k++) {
  const order: Array<'http' | 'grpc'> = k % 2 === 0 ? ['http', 'grpc'] : ['grpc', 'http'];
  const results: Record<string, Block> = {};
  for (const protocol of order) results[protocol] = await block(protocol, blockSize);
  const { http, grpc } = results;
  all.http.push(...http.latencies);
  all.grpc.push(...grpc.latencies);
  cpu.http.push(http.cpuUs);
  cpu.grpc.push(grpc.cpuUs);
  clientCpu.http.push(http.clientCpuUs);
  clientCpu.grpc.push(grpc.clientCpuUs);
  const ratio = mean(grpc.latencies) / mean(http.latencies);
  ratios.push(ratio);
  console.log(
    formatRow(
      [k + 1, mean(http.latencies).toFixed(0), mean(grpc.latencies).toFixed(0), median(http.latencies).toFixed(0), median(grpc.latencies).toFixed(0), `${http.cpuUs.toFixed(0)}/${grpc.cpuUs.toFixed(0)}`, `${http.clientCpuUs.toFixed(0)}/${grpc.clientCpuUs.toFixed(0)}`, ratio.toFixed(2)],
      widths,
    ),
  );
}
console.log(
  `all: http avg ${mean(all.http).toFixed(0)} µs p50 ${median(all.http).toFixed(0)}, grpc avg ${mean(all.grpc).toFixed(0)} µs p50 ${median(all.grpc).toFixed(0)}; ` +
    `server CPU per request http ${median(cpu.http).toFixed(0)} µs, grpc ${median(cpu.grpc).toFixed(0)} µs; ` +
    `client CPU per request http ${median(clientCpu.http).toFixed(0)} µs, grpc ${median(clientCpu.grpc).toFixed(0)} µs`,
);
console.log(`median of the blocks' gRPC/HTTP average-latency ratios: ${median(ratios).toFixed(2)} (target ≤ 1.2); ratio of medians: ${(median(all.grpc) / median(all.http)).toFixed(2)}`);
child.stdin.write('quit\n');
await new Promise((resolve) => child.once('exit', resolve));
await server.stop();
rmSync(repo, { recursive: true, force: true });
