/**
 * bench/http-overhead: the same add_sub JSON request against Nereid and against a bare
 * uWebSockets.js server (the ceiling), at several concurrencies, in one run.
 *   npx tsx bench/http-overhead.ts [--seconds 5] [--rounds 3] [--batching]
 * --batching serves add_sub with `dynamic_batching { }` added to its config.
 * Each concurrency is measured in several rounds, Nereid and the ceiling taking turns
 * (the order flips every round), and the median of the rounds' ratios is the figure:
 * on a shared 2-core machine single runs swing by a quarter either way.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow, median, runLoad } from './load-generator.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 5) || 5;
const batching = args.includes('--batching');
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 3;
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

const widths = [11, 5, 14, 9, 9, 14, 9, 9, 7, 13];
console.log(`http-overhead: add_sub JSON, ${seconds}s per point, ${rounds} rounds, dynamic batching ${batching ? 'on' : 'off'}`);
console.log(formatRow(['concurrency', 'round', 'nereid req/s', 'p50 ms', 'p99 ms', 'ceiling req/s', 'p50 ms', 'p99 ms', 'ratio', 'gen CPU %'], widths));
const medians: string[] = [];
for (const connections of CONCURRENCY) {
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const nereidFirst = round % 2 === 1;
    const early = nereidFirst ? await runLoad({ url: nereidUrl, connections, seconds, body }) : undefined;
    const ceiling = await runLoad({ url: bareUrl, connections, seconds, body });
    const nereid = early ?? (await runLoad({ url: nereidUrl, connections, seconds, body }));
    if (nereid.errors > 0) console.log(`  (nereid answered ${nereid.errors} requests with errors)`);
    const ratio = nereid.requestsPerSecond / ceiling.requestsPerSecond;
    ratios.push(ratio);
    console.log(
      formatRow(
        [
          connections,
          round,
          nereid.requestsPerSecond.toFixed(0),
          nereid.p50Ms,
          nereid.p99Ms,
          ceiling.requestsPerSecond.toFixed(0),
          ceiling.p50Ms,
          ceiling.p99Ms,
          ratio.toFixed(2),
          `${nereid.generatorCpuPercent.toFixed(0)}/${ceiling.generatorCpuPercent.toFixed(0)}`,
        ],
        widths,
      ),
    );
  }
  medians.push(`concurrency ${connections}: median ratio ${median(ratios).toFixed(2)} (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`);
}
for (const line of medians) console.log(line);

bare.kill();
await server.stop();
rmSync(repo, { recursive: true, force: true });
