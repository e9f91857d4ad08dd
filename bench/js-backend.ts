/**
 * bench/js-backend: what the JavaScript backend adds to a request. An identity model
 * written as model.js against the ONNX `identity_fp32`, same config otherwise (one
 * instance, no batching), at concurrency 1, in one run, taking turns (ONNX, JS, ONNX,
 * JS, …) so that both see the same machine. autocannon reports latency in whole
 * milliseconds, so the added latency is also given from throughput: at concurrency 1
 * each request follows the previous one, and its mean latency is 1 / (requests/s).
 * Other load on a shared machine only ever slows a round down, so the summary compares
 * each model's best round, and also the medians.
 *
 *   npx tsx bench/js-backend.ts [--seconds 3] [--rounds 5]
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow, runLoad, type LoadResult } from './load-generator.js';

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

const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i / 4) }] });
const server = await startServer({ modelRepositories: [repo], httpAddress: '127.0.0.1', httpPort: 0, allowGrpc: false });
const url = (model: string) => `http://127.0.0.1:${server.httpPort}/v2/models/${model}/infer`;
for (const model of ['identity_fp32', 'identity_js']) {
  const answer = await fetch(url(model), { method: 'POST', body });
  if (answer.status !== 200) throw new Error(`${model}: warm-up request failed: ${await answer.text()}`);
}

const meanUs = (result: LoadResult) => 1e6 / result.requestsPerSecond;
const widths = [5, 13, 10, 10, 11, 13, 10, 10, 11, 14, 10];
console.log(`js-backend: identity, FP32 [1,16] JSON, concurrency 1, ${seconds}s per point`);
console.log(formatRow(['round', 'onnx req/s', 'p50 ms', 'mean µs', 'gen CPU %', 'js req/s', 'p50 ms', 'mean µs', 'gen CPU %', 'js adds µs', 'ratio'], widths));
const results: Array<{ onnx: LoadResult; js: LoadResult }> = [];
for (let round = 1; round <= rounds; round++) {
  const onnx = await runLoad({ url: url('identity_fp32'), connections: 1, seconds, body });
  const js = await runLoad({ url: url('identity_js'), connections: 1, seconds, body });
  results.push({ onnx, js });
  if (onnx.errors + js.errors > 0) console.log(`  (errors: onnx ${onnx.errors}, js ${js.errors})`);
  console.log(
    formatRow(
      [
        round,
        onnx.requestsPerSecond.toFixed(0),
        onnx.p50Ms,
        meanUs(onnx).toFixed(0),
        onnx.generatorCpuPercent.toFixed(0),
        js.requestsPerSecond.toFixed(0),
        js.p50Ms,
        meanUs(js).toFixed(0),
        js.generatorCpuPercent.toFixed(0),
        (meanUs(js) - meanUs(onnx)).toFixed(0),
        (js.requestsPerSecond / onnx.requestsPerSecond).toFixed(2),
      ],
      widths,
    ),
  );
}
const best = (pick: (r: { onnx: LoadResult; js: LoadResult }) => LoadResult) => Math.max(...results.map((r) => pick(r).requestsPerSecond));
const median = (pick: (r: { onnx: LoadResult; js: LoadResult }) => LoadResult) => {
  const sorted = results.map((r) => pick(r).requestsPerSecond).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
for (const [what, of] of [['best', best], ['median', median]] as const) {
  const onnx = of((r) => r.onnx);
  const js = of((r) => r.js);
  console.log(`${what}: onnx ${onnx.toFixed(0)} req/s (${(1e6 / onnx).toFixed(0)} µs), js ${js.toFixed(0)} req/s (${(1e6 / js).toFixed(0)} µs): the JavaScript backend adds ${(1e6 / js - 1e6 / onnx).toFixed(0)} µs per request`);
}
await server.stop();
rmSync(repo, { recursive: true, force: true });
