/**
 * bench/http-overhead: the same add_sub JSON request against Nereid and against a bare
 * uWebSockets.js server (the ceiling), at several concurrencies, in one run.
 *   npx tsx bench/http-overhead.ts [--seconds 5] [--batching]
 * --batching serves add_sub with `dynamic_batching { }` added to its config.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow, runLoad } from './load-generator.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 5) || 5;
const batching = args.includes('--batching');
const CONCURRENCY = [1, 16, 64];

const repo = mkdtempSync(join(tmpdir(), 'nereid-bench-'));
cpSync(fileURLToPath(new URL('../model_repository/add_sub', import.meta.url)), join(repo, 'add_sub'), { recursive: true });
if (batching) {
  const configPath = join(repo, 'add_sub', 'config.pbtxt');
  writeFileSync(configPath, `${readFileSync(configPath, 'utf8')}\ndynamic_batching { max_queue_delay_microseconds: 100 }\n`);
}

const values = (offset: number) => Array.from({ length: 16 }, (_, i) => i * 0.5 + offset);
const body = JSON.stringify({
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: values(0) },
    { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: values(1) },
  ],
});

// Only HTTP is measured; gRPC stays off so that the bench never competes for port 8001.
const server = await startServer({ modelRepositories: [repo], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false });
const nereidUrl = `http://127.0.0.1:${server.httpPort}/v2/models/add_sub/infer`;
const sample = await fetch(nereidUrl, { method: 'POST', body });
const fixedAnswer = await sample.text();
if (sample.status !== 200) throw new Error(`warm-up request failed: ${fixedAnswer}`);

const bare = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./bare-uws-server.ts', import.meta.url)), fixedAnswer], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const barePort = await new Promise<number>((resolve) => bare.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
const bareUrl = `http://127.0.0.1:${barePort}/v2/models/add_sub/infer`;

const widths = [11, 14, 9, 9, 14, 9, 9, 7, 13];
console.log(`http-overhead: add_sub JSON, ${seconds}s per point, dynamic batching ${batching ? 'on' : 'off'}`);
console.log(formatRow(['concurrency', 'nereid req/s', 'p50 ms', 'p99 ms', 'ceiling req/s', 'p50 ms', 'p99 ms', 'ratio', 'gen CPU %'], widths));
for (const connections of CONCURRENCY) {
  const nereid = await runLoad({ url: nereidUrl, connections, seconds, body });
  const ceiling = await runLoad({ url: bareUrl, connections, seconds, body });
  if (nereid.errors > 0) console.log(`  (nereid answered ${nereid.errors} requests with errors)`);
  console.log(
    formatRow(
      [
        connections,
        nereid.requestsPerSecond.toFixed(0),
        nereid.p50Ms,
        nereid.p99Ms,
        ceiling.requestsPerSecond.toFixed(0),
        ceiling.p50Ms,
        ceiling.p99Ms,
        (nereid.requestsPerSecond / ceiling.requestsPerSecond).toFixed(2),
        `${nereid.generatorCpuPercent.toFixed(0)}/${ceiling.generatorCpuPercent.toFixed(0)}`,
      ],
      widths,
    ),
  );
}

bare.kill();
await server.stop();
rmSync(repo, { recursive: true, force: true });
