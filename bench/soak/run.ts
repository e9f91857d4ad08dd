/**
 * Soak: mixed traffic against one server for a long time, watching its memory and its
 * event loop. HTTP and gRPC inference (every other request malformed, from the fuzzer's
 * cases, the well-formed ones checked value by value), and a model reloaded (load of a
 * loaded model, or unload then load) every few seconds and checked after each reload.
 *
 *   npx tsx bench/soak/run.ts [--seconds 600] [--interval 10] [--reload-every 5] [--concurrency 4] [--seed N]
 *
 * Prints one line per interval (RSS, heap, event-loop delay, requests, errors) and a
 * summary: RSS growth from the end of warm-up (the first fifth) to the end, against the
 * target of 10 %, and the count of unexpected errors, against the target of zero.
 * Exits 1 when either target is missed.
 */
import { fork } from 'node:child_process';
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { formatFailure, tryGrpcCase, tryHttpCase, type FuzzFailure, type ProtocolTally } from '../fuzz/fuzz-campaign.js';
import { FUZZ_MODEL_NAMES } from '../fuzz/fuzz-models.js';
import { grpcCase } from '../fuzz/grpc-cases.js';
import { httpCase } from '../fuzz/http-cases.js';
import type { SoakSample, SoakServerReady } from './server-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RELOADED_MODEL = 'identity_fp32';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const seconds = flag('seconds', 600);
const intervalSeconds = flag('interval', 10);
const reloadEverySeconds = flag('reload-every', 5);
const concurrency = flag('concurrency', 4);
const seed = flag('seed', Date.now() % 0x7fffffff);
const GOOD_EVERY = 2;
const TIMEOUT_MS = 30_000;

let started = performance.now();
const child = fork(fileURLToPath(new URL('./server-process.ts', import.meta.url)), [`${ROOT}/model_repository`, String(intervalSeconds * 1000), ...FUZZ_MODEL_NAMES, RELOADED_MODEL], {
  cwd: ROOT,
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, NEREID_COMPILED_WORKERS: '1' },
});
const samples: Array<SoakSample & { atSeconds: number }> = [];
const ready = await new Promise<SoakServerReady>((resolve, reject) => {
  child.on('message', (message: SoakServerReady | SoakSample) => {
    if (message.type === 'listening') resolve(message);
    else samples.push({ ...message, atSeconds: (performance.now() - started) / 1000 });
  });
  child.once('exit', (code) => reject(new Error(`the server exited (${code}) before it listened`)));
});
let stopping = false;
let crashed = false;
child.on('exit', (code) => {
  if (!stopping) {
    crashed = true;
    console.error(`the server exited (code ${code}) during the soak`);
  }
});

started = performance.now();
const deadline = started + seconds * 1000;
const failures: FuzzFailure[] = [];
const http: ProtocolTally = { sent: 0, good: 0, answers: {} };
const grpcTally: ProtocolTally = { sent: 0, good: 0, answers: {} };
const reloads = { done: 0, failed: 0 };
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const client = new grpc.Client(`127.0.0.1:${ready.grpcPort}`, grpc.credentials.createInsecure());
const base = `http://127.0.0.1:${ready.httpPort}`;

let nextHttp = 0;
let nextGrpc = 0;
const running = () => performance.now() < deadline && !crashed;

async function httpLoop(): Promise<void> {
  while (running()) {
    const fuzzCase = httpCase(seed, nextHttp++, GOOD_EVERY);
    http.sent++;
    const problem = await tryHttpCase(agent, ready.httpPort, fuzzCase, TIMEOUT_MS, http);
    if (problem) failures.push({ protocol: 'http', seed, index: fuzzCase.index, description: fuzzCase.description, problem });
  }
}

async function grpcLoop(): Promise<void> {
  while (running()) {
    const fuzzCase = grpcCase(seed, nextGrpc++, GOOD_EVERY);
    grpcTally.sent++;
    const problem = await tryGrpcCase(client, fuzzCase, TIMEOUT_MS, grpcTally);
    if (problem) failures.push({ protocol: 'grpc', seed, index: fuzzCase.index, description: fuzzCase.description, problem });
  }
}

/** Reloads the model (a load of a loaded model, or an unload and a load), then checks that it answers right. */
async function reloadLoop(): Promise<void> {
  const fail = (problem: string) => {
    reloads.failed++;
    failures.push({ protocol: 'http', seed, index: -1, description: `reload ${reloads.done + reloads.failed} of ${RELOADED_MODEL}`, problem });
  };
  while (running()) {
    await new Promise((resolve) => setTimeout(resolve, reloadEverySeconds * 1000));
    if (!running()) break;
    try {
      if ((reloads.done + reloads.failed) % 2 === 1) {
        const unload = await fetch(`${base}/v2/repository/models/${RELOADED_MODEL}/unload`, { method: 'POST' });
        if (unload.status !== 200) {
          fail(`unload answered ${unload.status}: ${await unload.text()}`);
          continue;
        }
      }
      const load = await fetch(`${base}/v2/repository/models/${RELOADED_MODEL}/load`, { method: 'POST' });
      if (load.status !== 200) {
        fail(`load answered ${load.status}: ${await load.text()}`);
        continue;
      }
      const values = [1.5, -2, 3.25];
      const infer = await fetch(`${base}/v2/models/${RELOADED_MODEL}/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: values }] }),
      });
      const answer = (await infer.json()) as { outputs?: Array<{ data: number[] }> };
      if (infer.status !== 200 || JSON.stringify(answer.outputs?.[0]?.data) !== JSON.stringify(values)) {
        fail(`after the reload, inference answered ${infer.status}: ${JSON.stringify(answer).slice(0, 200)}`);
        continue;
      }
      reloads.done++;
    } catch (err) {
      fail(`no answer: ${(err as Error).message}`);
    }
  }
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
let printed = 0;
const reporter = setInterval(() => {
  for (; printed < samples.length; printed++) {
    const s = samples[printed]!;
    console.log(
      `${s.atSeconds.toFixed(0).padStart(5)} s  rss ${mb(s.rssBytes).padStart(7)} MiB  heap ${mb(s.heapUsedBytes).padStart(6)} MiB  ` +
        `loop delay p50 ${s.loopDelayP50Ms.toFixed(1)} p99 ${s.loopDelayP99Ms.toFixed(1)} max ${s.loopDelayMaxMs.toFixed(1)} ms  ` +
        `http ${http.sent}  grpc ${grpcTally.sent}  reloads ${reloads.done}  unexpected errors ${failures.length}`,
    );
  }
}, 1000);

console.log(`soak: ${seconds} s, seed ${seed}, ${concurrency} HTTP and ${concurrency} gRPC requests in flight (every other one malformed), ${RELOADED_MODEL} reloaded every ${reloadEverySeconds} s`);
await Promise.all([...Array.from({ length: concurrency }, httpLoop), ...Array.from({ length: concurrency }, grpcLoop), reloadLoop()]);
await new Promise((resolve) => setTimeout(resolve, 1500));
clearInterval(reporter);
agent.destroy();
client.close();
stopping = true;
child.send('stop');
await new Promise((resolve) => child.once('exit', resolve));

const warm = samples.filter((s) => s.atSeconds >= seconds / 5);
const first = warm[0] ?? samples[0];
const last = samples.at(-1);
const elapsed = (performance.now() - started) / 1000;
console.log('\nsummary');
console.log(`  ${http.sent} HTTP requests (${http.good} well-formed; malformed answered ${JSON.stringify(http.answers)}), ${(http.sent / elapsed).toFixed(0)}/s`);
console.log(`  ${grpcTally.sent} gRPC requests (${grpcTally.good} well-formed; malformed answered ${JSON.stringify(grpcTally.answers)}), ${(grpcTally.sent / elapsed).toFixed(0)}/s`);
console.log(`  ${reloads.done} reloads of ${RELOADED_MODEL} checked, ${reloads.failed} failed`);
let growth = Number.NaN;
if (first && last) {
  growth = (last.rssBytes - first.rssBytes) / first.rssBytes;
  const peak = Math.max(...samples.map((s) => s.rssBytes));
  const worstP99 = Math.max(...samples.map((s) => s.loopDelayP99Ms));
  const worstMax = Math.max(...samples.map((s) => s.loopDelayMaxMs));
  console.log(`  RSS after warm-up (${first.atSeconds.toFixed(0)} s) ${mb(first.rssBytes)} MiB, at the end ${mb(last.rssBytes)} MiB: ${(growth * 100).toFixed(1)} % (target within 10 %), peak ${mb(peak)} MiB`);
  console.log(`  event-loop delay: worst interval p99 ${worstP99.toFixed(1)} ms, worst max ${worstMax.toFixed(1)} ms`);
}
for (const failure of failures.slice(0, 20)) console.log(`  ${formatFailure(failure)}`);
console.log(`  unexpected errors: ${failures.length} (target 0)${crashed ? '; the server crashed' : ''}`);
process.exit(failures.length === 0 && !crashed && Math.abs(growth) <= 0.1 ? 0 : 1);
