/**
 * bench/js-backend: what the JavaScript backend adds to a request. An identity model
 * written as model.js against the ONNX `identity_fp32`, same config otherwise (one
 * instance, no batching), at concurrency 1, in one run, taking turns (ONNX, JS, ONNX,
 * JS, …) so that both see the same machine. The load comes from `nereid perf`, whose
 * latencies are in microseconds: the figure is the difference of the two p50s, per
 * round and as the median over the rounds. Other load on a shared machine only ever
 * slows a round down, so the best rounds are printed too.
 *
 *   npx tsx bench/js-backend.ts [--seconds 3] [--rounds 5]
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow, median } from './load-generator.js';
import { runPerf, type PerfResult } from './perf-runner.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 3) || 3;
const rounds = Number(args[args.indexOf('--rounds') + 1] || 5) || 5;

const IDENTITY_JS = `export function execute(requests) {
  return requests.map(({ inputs }) => ({ outputs: { OUTPUT0: inputs.INPUT0 } }));
}
`;

const source = fileURLToPath(new URL('../model_repository/identity_fp32', import.meta.url));
const repo = mkdtempSync(join(tmpdir(), 'nereid-bench-'));
cpSync(source, join(repo, 'identity_fp32'), { recursive: true });
mkdirSync(join(repo, 'identity_js', '1'), { recursive: true });
writeFileSync(
  join(repo, 'identity_js', 'config.pbtxt'),
  readFileSync(join(source, 'config.pbtxt'), 'utf8').replace('name: "identity_fp32"', 'name: "identity_js"').replace('platform: "onnxruntime_onnx"', 'backend: "javascript"'),
);
writeFileSync(join(repo, 'identity_js', '1', 'model.js'), IDENTITY_JS);

const values = Array.from({ length: 16 }, (_, i) => i / 4);
const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: values }] });
const server = await startServer({ modelRepositories: [repo], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false });
const address = `127.0.0.1:${server.httpPort}`;
for (const model of ['identity_fp32', 'identity_js']) {
  const answer = await fetch(`http://${address}/v2/models/${model}/infer`, { method: 'POST', body });
  if (answer.status !== 200) throw new Error(`${model}: warm-up request failed: ${await answer.text()}`);
}
const measure = (model: string) => runPerf({ address, model, concurrency: 1, seconds, inputs: { INPUT0: values } });

const widths = [5, 11, 8, 8, 10, 9, 8, 8, 10, 13];
console.log(`js-backend: identity, FP32 [1,16] JSON, concurrency 1, ${seconds}s per point, nereid perf`);
console.log(formatRow(['round', 'onnx req/s', 'p50 µs', 'p99 µs', 'gen CPU %', 'js req/s', 'p50 µs', 'p99 µs', 'gen CPU %', 'js adds µs'], widths));
const results: Array<{ onnx: PerfResult; js: PerfResult }> = [];
for (let round = 1; round <= rounds; round++) {
  const onnx = await measure('identity_fp32');
  const js = await measure('identity_js');
  results.push({ onnx, js });
  if (onnx.errors + js.errors > 0) console.log(`  (errors: onnx ${onnx.errors}, js ${js.errors})`);
  console.log(
    formatRow(
      [
        round,
        onnx.requestsPerSecond.toFixed(0),
        onnx.p50Us.toFixed(0),
        onnx.p99Us.toFixed(0),
        onnx.generatorCpuPercent.toFixed(0),
        js.requestsPerSecond.toFixed(0),
        js.p50Us.toFixed(0),
        js.p99Us.toFixed(0),
        js.generatorCpuPercent.toFixed(0),
        (js.p50Us - onnx.p50Us).toFixed(0),
      ],
      widths,
    ),
  );
}
const added = median(results.map((r) => r.js.p50Us - r.onnx.p50Us));
const bestOnnx = Math.min(...results.map((r) => r.onnx.p50Us));
const bestJs = Math.min(...results.map((r) => r.js.p50Us));
console.log(`best p50: onnx ${bestOnnx.toFixed(0)} µs, js ${bestJs.toFixed(0)} µs`);
console.log(`median of the rounds: the JavaScript backend adds ${added.toFixed(0)} µs at p50 (target: under 100 µs)`);
await server.stop();
rmSync(repo, { recursive: true, force: true });
