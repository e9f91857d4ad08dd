/**
 * The long fuzz run: starts `nereid serve` as a child process (so that a crash is seen as
 * one, with the cases in flight named), sends N malformed HTTP and N malformed gRPC
 * inference requests (every good-every-th case well-formed instead), and exits 1 on any 5xx, gRPC
 * INTERNAL/UNKNOWN/UNAVAILABLE, missing answer, wrong good answer or crash.
 *
 *   npx tsx bench/fuzz/run.ts [--malformed 10000] [--seed N] [--good-every 5] [--concurrency 8]
 *   npx tsx bench/fuzz/run.ts --seed N --protocol http --case I     (replay one case)
 *
 * Run `npm run build` first: the server is dist/cli/main.js.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatFailure, runFuzzCampaign } from './fuzz-campaign.js';
import { FUZZ_MODEL_NAMES } from './fuzz-models.js';
import { grpcCase } from './grpc-cases.js';
import { httpCase } from './http-cases.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

const seed = Number(flag('seed') ?? (Date.now() % 0x7fffffff));
const onlyCase = flag('case') !== undefined ? Number(flag('case')) : undefined;
const protocol = flag('protocol') ?? 'both';
const goodEvery = Number(flag('good-every') ?? 5);
/** Enough cases per protocol for `--malformed` malformed ones beside the well-formed. */
const cases = onlyCase !== undefined ? 1 : Math.ceil((Number(flag('malformed') ?? 10_000) * goodEvery) / (goodEvery - 1));
const concurrency = Number(flag('concurrency') ?? 8);

if (onlyCase !== undefined) {
  const shown = protocol === 'grpc' ? grpcCase(seed, onlyCase, goodEvery) : httpCase(seed, onlyCase, goodEvery);
  console.log(`case ${onlyCase} (seed ${seed}, ${protocol}): ${shown.description}`);
  if ('path' in shown) console.log(`${shown.method} ${shown.path}\n${JSON.stringify(shown.headers)}\n${shown.body.subarray(0, 2000).toString('latin1')}`);
  else console.log(`ModelInferRequest bytes (${shown.bytes.length}): ${shown.bytes.subarray(0, 400).toString('hex')}`);
}

interface Ports {
  http: number;
  grpc: number;
}

/** Starts the server on ephemeral ports; resolves once both are listening. */
function startServerProcess(): Promise<{ ports: Ports; exited: Promise<number | null>; stop(): void }> {
  const args = [
    'dist/cli/main.js', 'serve', '--model-repository', 'model_repository', '--model-control-mode', 'explicit',
    ...FUZZ_MODEL_NAMES.flatMap((m) => ['--load-model', m]),
    '--http-address', '127.0.0.1', '--http-port', '0', '--grpc-address', '127.0.0.1', '--grpc-port', '0', '--allow-metrics', 'false',
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const ports: Partial<Ports> = {};
    let listening = false;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.includes('HTTP service started')) ports.http = JSON.parse(line).port;
        if (line.includes('GRPC service started')) ports.grpc = JSON.parse(line).port;
        if (!listening && ports.http !== undefined && ports.grpc !== undefined) {
          listening = true;
          resolve({ ports: ports as Ports, exited, stop: () => child.kill('SIGTERM') });
        }
      }
    });
    void exited.then((code) => reject(new Error(`the server exited (${code}) before it listened`)));
  });
}

const server = await startServerProcess();
console.log(`fuzzing with seed ${seed}: ${protocol === 'grpc' ? 0 : cases} HTTP and ${protocol === 'http' ? 0 : cases} gRPC cases, every ${goodEvery}th well-formed, ${concurrency} in flight per protocol`);
const started = performance.now();
let crashed = false;
let stopping = false;
void server.exited.then((code) => {
  if (stopping) return;
  crashed = true;
  console.error(`the server exited (code ${code}) during the run: the cases in flight at that moment are the suspects; replay them with --case`);
});
const report = await runFuzzCampaign({
  httpPort: server.ports.http,
  grpcTarget: `127.0.0.1:${server.ports.grpc}`,
  seed,
  httpCases: protocol === 'grpc' ? 0 : cases,
  grpcCases: protocol === 'http' ? 0 : cases,
  firstCase: onlyCase,
  goodEvery,
  concurrency,
  timeoutMs: 30_000,
}).catch((err) => {
  server.stop();
  throw err;
});
const seconds = (performance.now() - started) / 1000;
const ready = crashed ? 0 : (await fetch(`http://127.0.0.1:${server.ports.http}/v2/health/ready`)).status;
stopping = true;
server.stop();
await server.exited;

console.log(`\n${seconds.toFixed(1)} s`);
for (const [name, tally] of [['HTTP', report.http], ['gRPC', report.grpc]] as const) {
  console.log(`${name}: ${tally.sent - tally.good} malformed and ${tally.good} well-formed requests; the malformed answered ${JSON.stringify(tally.answers)}`);
}
console.log(`server ready after the run: ${ready === 200 ? 'yes' : `no (${ready})`}`);
for (const failure of report.failures.slice(0, 50)) console.log(formatFailure(failure));
console.log(`${report.failures.length} failure(s)${crashed ? ', and the server crashed' : ''}`);
process.exit(report.failures.length === 0 && !crashed && ready === 200 ? 0 : 1);
