/**
 * bench/grpc-overhead: unary ModelInfer on add_sub with raw contents against Nereid and,
 * in the same run, against a bare @grpc/grpc-js server answering a fixed
 * ModelInferResponse (the ceiling), at several concurrencies; then the same over one
 * ModelStreamInfer stream. The load generator runs in its own process.
 *   npx tsx bench/grpc-overhead.ts [--seconds 5] [--batching] [--modes unary,stream] [--concurrency 1,16,64]
 * --batching serves add_sub with `dynamic_batching { max_queue_delay_microseconds: 100 }` added to its config.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { startServer } from '../src/server/index.js';
import { messageType } from '../src/server/grpc/grpc-messages.js';
import { formatRow } from './load-generator.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 5) || 5;
const batching = args.includes('--batching');
const listOption = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback).split(',');
const CONCURRENCY = listOption('--concurrency', '1,16,64').map(Number);
const MODES = listOption('--modes', 'unary,stream') as Array<'unary' | 'stream'>;

interface LoadResult {
  inferencesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  generatorCpuPercent: number;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function runLoad(target: string, mode: 'unary' | 'stream', concurrency: number, request: Buffer): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', here('./grpc-load-child.ts'), target, mode, String(concurrency), String(seconds), request.toString('base64')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`load generator exited with ${code}`)))),
  );
}

const repo = mkdtempSync(join(tmpdir(), 'nereid-bench-'));
cpSync(here('../model_repository/add_sub'), join(repo, 'add_sub'), { recursive: true });
if (batching) {
  const configPath = join(repo, 'add_sub', 'config.pbtxt');
  writeFileSync(configPath, `${readFileSync(configPath, 'utf8')}\ndynamic_batching { max_queue_delay_microseconds: 100 }\n`);
}
const server = await startServer({ modelRepositories: [repo], allowHttp: false, grpcAddress: '127.0.0.1', grpcPort: 0 });
const nereidTarget = `127.0.0.1:${server.grpcPort}`;

const values = (offset: number) => Float32Array.from({ length: 16 }, (_, i) => i * 0.5 + offset);
const request = messageType('ModelInferRequest')
  .encode({
    model_name: 'add_sub',
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [1, 16] },
      { name: 'INPUT1', datatype: 'FP32', shape: [1, 16] },
    ],
    raw_input_contents: [Buffer.from(values(0).buffer), Buffer.from(values(1).buffer)],
  })
  .finish() as Buffer;

// The ceiling answers exactly what Nereid answers.
const identity = (bytes: Buffer) => bytes;
const probe = new grpc.Client(nereidTarget, grpc.credentials.createInsecure());
const unaryAnswer = await new Promise<Buffer>((resolve, reject) =>
  probe.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', identity, identity, request, (err, response) =>
    err ? reject(new Error(`warm-up request failed: ${err.message}`)) : resolve(response!),
  ),
);
probe.close();
const streamAnswer = messageType('ModelStreamInferResponse').encode({ infer_response: messageType('ModelInferResponse').decode(unaryAnswer) }).finish() as Buffer;

const bare = spawn(process.execPath, ['--import', 'tsx', here('./bare-grpc-server.ts'), unaryAnswer.toString('base64'), streamAnswer.toString('base64')], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const barePort = await new Promise<number>((resolve) => bare.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
const bareTarget = `127.0.0.1:${barePort}`;

/** CPU microseconds a server spent (every thread of its process): Nereid is this process, the ceiling answers on stdin. */
type CpuReader = () => Promise<number>;
const total = (usage: NodeJS.CpuUsage) => usage.user + usage.system;
const nereidCpu: CpuReader = async () => total(process.cpuUsage());
const bareCpu: CpuReader = () =>
  new Promise((resolve) => {
    bare.stdout.once('data', (chunk) => resolve(total(JSON.parse(String(chunk)))));
    bare.stdin.write('cpu\n');
  });

/** One load run, with the server's CPU time per inference: robust to a busy machine, unlike inferences/s. */
async function measure(target: string, cpu: CpuReader, mode: 'unary' | 'stream', concurrency: number) {
  const before = await cpu();
  const result = await runLoad(target, mode, concurrency, request);
  const spent = (await cpu()) - before;
  // The run sends for 1 s of warm-up plus `seconds`; count the warm-up at the measured rate.
  const inferences = result.inferencesPerSecond * (seconds + 1);
  return { ...result, cpuUsPerInference: inferences > 0 ? spent / inferences : NaN };
}

const widths = [13, 13, 8, 8, 10, 14, 8, 8, 10, 6, 10];
console.log(`grpc-overhead: add_sub, raw contents, dynamic batching ${batching ? 'on' : 'off'}, ${seconds}s per point (after 1s warm-up), load generator in its own process`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`);
console.log(
  formatRow(['mode', 'nereid inf/s', 'p50 ms', 'p99 ms', 'CPU µs/inf', 'ceiling inf/s', 'p50 ms', 'p99 ms', 'CPU µs/inf', 'ratio', 'gen CPU %'], widths),
);
for (const mode of MODES) {
  for (const concurrency of CONCURRENCY) {
    const nereid = await measure(nereidTarget, nereidCpu, mode, concurrency);
    const ceiling = await measure(bareTarget, bareCpu, mode, concurrency);
    if (nereid.errors > 0) console.log(`  (nereid answered ${nereid.errors} requests with errors)`);
    console.log(
      formatRow(
        [
          `${mode} c=${concurrency}`,
          nereid.inferencesPerSecond.toFixed(0),
          nereid.p50Ms,
          nereid.p99Ms,
          nereid.cpuUsPerInference.toFixed(0),
          ceiling.inferencesPerSecond.toFixed(0),
          ceiling.p50Ms,
          ceiling.p99Ms,
          ceiling.cpuUsPerInference.toFixed(0),
          (nereid.inferencesPerSecond / ceiling.inferencesPerSecond).toFixed(2),
          `${nereid.generatorCpuPercent.toFixed(0)}/${ceiling.generatorCpuPercent.toFixed(0)}`,
        ],
        widths,
      ),
    );
  }
}

bare.kill();
await server.stop();
rmSync(repo, { recursive: true, force: true });
