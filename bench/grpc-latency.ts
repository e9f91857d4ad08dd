/**
 * bench/grpc-latency: latency at concurrency 1 of unary gRPC ModelInfer against HTTP/1.1
 * (binary tensor data) on `simple`, alternating in blocks within one run (the machine is
 * shared: only side-by-side figures compare). The client runs in its own process with
 * prepared request bytes: HTTP/1.1 over node:net; gRPC twice, through Node's HTTP/2
 * client (`grpc`) and as prepared HTTP/2 frames over node:net (`raw`, as thin as
 * perf_analyzer's C++ client: Node's http2 client costs several times the HTTP/1.1
 * client's CPU per call, which lands in the latency), so the raw ratio is the servers'.
 * `srv CPU µs` is this process's CPU time (the server and its model worker) per request.
 * Target: gRPC/HTTP ≤ 1.2.
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

type Protocol = 'http' | 'grpc' | 'grpc-raw';
const PROTOCOLS: Protocol[] = ['http', 'grpc', 'grpc-raw'];

async function block(protocol: Protocol, count: number): Promise<Block> {
  const before = process.cpuUsage();
  child.stdin.write(`${protocol} ${count}\n`);
  const { value, done } = await answers.next();
  if (done) throw new Error('the client exited');
  const cpu = process.cpuUsage(before);
  const answer = JSON.parse(value) as { latencies: number[]; clientCpuUs: number };
  return { ...answer, cpuUs: (cpu.user + cpu.system) / count };
}

for (const protocol of PROTOCOLS) await block(protocol, 200);

const perProtocol = () => ({ http: [] as number[], grpc: [] as number[], 'grpc-raw': [] as number[] });
const all = perProtocol();
const cpu = perProtocol();
const clientCpu = perProtocol();
const ratios: number[] = [];
const rawRatios: number[] = [];
console.log(`grpc-latency: simple, concurrency 1, ${blocks} blocks of ${blockSize} requests per protocol, alternating`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
const widths = [5, 12, 12, 12, 9, 9, 9, 18, 18, 10, 10];
console.log(
  formatRow(['block', 'http avg µs', 'grpc avg µs', 'raw avg µs', 'http p50', 'grpc p50', 'raw p50', 'srv CPU µs h/g/r', 'client CPU h/g/r', 'grpc/http', 'raw/http'], widths),
);
const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
for (let k = 0; k < blocks; k++) {
  // Each block starts with a different protocol, so none always runs first.
  const order = PROTOCOLS.map((_, i) => PROTOCOLS[(i + k) % PROTOCOLS.length]);
  const results = {} as Record<Protocol, Block>;
  for (const protocol of order) results[protocol] = await block(protocol, blockSize);
  for (const protocol of PROTOCOLS) {
    all[protocol].push(...results[protocol].latencies);
    cpu[protocol].push(results[protocol].cpuUs);
    clientCpu[protocol].push(results[protocol].clientCpuUs);
  }
  const { http, grpc } = results;
  const raw = results['grpc-raw'];
  const ratio = mean(grpc.latencies) / mean(http.latencies);
  const rawRatio = mean(raw.latencies) / mean(http.latencies);
  ratios.push(ratio);
  rawRatios.push(rawRatio);
  const each = (f: (b: Block) => number) => PROTOCOLS.map((p) => f(results[p]).toFixed(0)).join('/');
  console.log(
    formatRow(
      [
        k + 1,
        ...PROTOCOLS.map((p) => mean(results[p].latencies).toFixed(0)),
        ...PROTOCOLS.map((p) => median(results[p].latencies).toFixed(0)),
        each((b) => b.cpuUs),
        each((b) => b.clientCpuUs),
        ratio.toFixed(2),
        rawRatio.toFixed(2),
      ],
      widths,
    ),
  );
}
const across = (values: Record<Protocol, number[]>, f: (v: number[]) => number) => PROTOCOLS.map((p) => `${p} ${f(values[p]).toFixed(0)}`).join(', ');
console.log(`all: avg µs ${across(all, mean)}; p50 µs ${across(all, median)}`);
console.log(`server CPU µs per request ${across(cpu, median)}; client CPU µs per request ${across(clientCpu, median)}`);
console.log(
  `median of the blocks' average-latency ratios: gRPC (raw HTTP/2 client)/HTTP ${median(rawRatios).toFixed(2)} (target ≤ 1.2), ` +
    `gRPC (node:http2 client)/HTTP ${median(ratios).toFixed(2)}; ratio of medians raw/HTTP ${(median(all['grpc-raw']) / median(all.http)).toFixed(2)}`,
);
child.stdin.write('quit\n');
await new Promise((resolve) => child.once('exit', resolve));
await server.stop();
rmSync(repo, { recursive: true, force: true });
