/**
 * bench/perf-vs-autocannon: `nereid perf` and autocannon, each in its own process,
 * POST the same add_sub JSON request to the same Nereid server at the same
 * concurrency, alternately (the order flips every round, so that drift of a shared
 * machine hits both alike), in one run. `nereid perf` must not be the bottleneck:
 * its throughput should be within 10 % of autocannon's; the median of the rounds'
 * ratios is the figure, as single rounds swing on a busy machine. The generators'
 * CPU time per request (µs) says the same thing independently of the server's speed.
 *   npx tsx bench/perf-vs-autocannon.ts [--seconds 3] [--rounds 5] [--concurrency 16,64]
 * nereid perf measures three windows of seconds/3 (`-p`, with `-s 1000` so that
 * it stops at exactly three) and reports them merged, as autocannon reports its run.
 * The load average is printed before and after: above the core count, the figures
 * are noise. Two seconds of load before the first round warm the server up.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow, median, runLoad } from './load-generator.js';
import { runPerf } from './perf-runner.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const seconds = Number(option('--seconds', '3'));
const rounds = Number(option('--rounds', '5'));
const concurrencies = option('--concurrency', '16,64').split(',').map(Number);

const work = mkdtempSync(join(tmpdir(), 'nereid-bench-'));
cpSync(fileURLToPath(new URL('../model_repository/add_sub', import.meta.url)), join(work, 'repo', 'add_sub'), { recursive: true });

// The request of bench/http-overhead; nereid perf reads the same values from a perf_analyzer data file.
const values = (offset: number) => Array.from({ length: 16 }, (_, i) => i * 0.5 + offset);
const body = JSON.stringify({
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: values(0) },
    { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: values(1) },
  ],
});

const server = await startServer({ modelRepositories: [join(work, 'repo')], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false });
const address = `127.0.0.1:${server.httpPort}`;
const url = `http://${address}/v2/models/add_sub/infer`;
const warm = await fetch(url, { method: 'POST', body });
if (warm.status !== 200) throw new Error(`warm-up request failed: ${await warm.text()}`);
// The server's code is compiled while it first runs hot: load it before measuring, so
// that the first round does not pay for that.
await runLoad({ url, connections: Math.max(...concurrencies), seconds: 2, body });

const perfRun = (concurrency: number) => runPerf({ address, model: 'add_sub', concurrency, seconds, inputs: { INPUT0: values(0), INPUT1: values(1) } });

console.log(`load average before: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`);
const widths = [11, 5, 16, 7, 7, 10, 17, 7, 7, 10, 7];
console.log(`perf-vs-autocannon: add_sub JSON, ${seconds}s per run, ${rounds} rounds, alternating`);
console.log(formatRow(['concurrency', 'round', 'autocannon req/s', 'p50 ms', 'p99 ms', 'CPU µs/r', 'nereid perf req/s', 'p50 ms', 'p99 ms', 'CPU µs/r', 'ratio'], widths));
/** The generator's CPU time per request it completed, in microseconds. */
const cpuPerRequestUs = (figures: { generatorCpuPercent: number; requestsPerSecond: number }) => (figures.generatorCpuPercent * 1e4) / figures.requestsPerSecond;
const summary: Array<{ concurrency: number; ratio: number; cannonCpuUs: number; perfCpuUs: number }> = [];
for (const connections of concurrencies) {
  const ratios: number[] = [];
  const cannonCpu: number[] = [];
  const perfCpu: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const perfFirst = round % 2 === 0;
    const perfEarly = perfFirst ? await perfRun(connections) : undefined;
    const cannon = await runLoad({ url, connections, seconds, body });
    const perf = perfEarly ?? (await perfRun(connections));
    if (cannon.errors + perf.errors > 0) console.log(`  (errors: autocannon ${cannon.errors}, nereid perf ${perf.errors})`);
    const ratio = perf.requestsPerSecond / cannon.requestsPerSecond;
    ratios.push(ratio);
    cannonCpu.push(cpuPerRequestUs(cannon));
    perfCpu.push(cpuPerRequestUs(perf));
    console.log(
      formatRow(
        [
          connections,
          round,
          cannon.requestsPerSecond.toFixed(0),
          cannon.p50Ms.toFixed(2),
          cannon.p99Ms.toFixed(2),
          cpuPerRequestUs(cannon).toFixed(0),
          perf.requestsPerSecond.toFixed(0),
          perf.p50Ms.toFixed(2),
          perf.p99Ms.toFixed(2),
          cpuPerRequestUs(perf).toFixed(0),
          ratio.toFixed(3),
        ],
        widths,
      ),
    );
  }
  summary.push({ concurrency: connections, ratio: median(ratios), cannonCpuUs: median(cannonCpu), perfCpuUs: median(perfCpu) });
}
for (const { concurrency, ratio, cannonCpuUs, perfCpuUs } of summary) {
  console.log(
    `concurrency ${concurrency}: median nereid perf / autocannon = ${ratio.toFixed(3)} (${Math.abs(1 - ratio) <= 0.1 ? 'within' : 'OUTSIDE'} 10 %); ` +
      `median generator CPU per request: autocannon ${cannonCpuUs.toFixed(0)} µs, nereid perf ${perfCpuUs.toFixed(0)} µs`,
  );
}

console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
await server.stop();
rmSync(work, { recursive: true, force: true });
