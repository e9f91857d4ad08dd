/**
 * bench/scheduler-overhead: the dynamic batcher's own CPU per request, without HTTP or a
 * model: a DynamicBatcher with bench/batching's mlp configuration over an instance written
 * here that answers each batch on the next event-loop turn. Requests come in waves of 32
 * one-row requests, 4 per turn, while the instance is idle (the batch waits for its delay
 * or its 32nd request), as they do at concurrency 64. CPU time is the process's, so the
 * figure does not depend on what else the machine runs as much as wall time would.
 *   npm run build && npx tsx bench/scheduler-overhead.ts [ROOT]
 * ROOT (default: this checkout) is a checkout with a dist/ to measure: for an A/B, give
 * two and run them alternately.
 */
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
const { DynamicBatcher, InstancePool } = await import(`${root}/dist/scheduler/index.js`);
const { parseModelConfig } = await import(`${root}/dist/repository/index.js`);
const { ModelStatistics } = await import(`${root}/dist/metrics/model-statistics.js`);
const config = parseModelConfig(`name: "mlp"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 128\ninput [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ 256 ] }]\noutput [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 16 ] }]\ndynamic_batching { preferred_batch_size: [ 32, 64, 128 ] max_queue_delay_microseconds: 500 }`, 'config.pbtxt');
const instance = {
  // The shape of ModelInstance; its result is the right size and all zeros.
  name: 'mlp_0', signature: { inputs: [], outputs: [] },
  execute(batch: any) {
    const rows = batch.inputs[0].shape[0];
    return new Promise((resolve) => setImmediate(() => resolve({ kind: 'batch', outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [rows, 16], data: new Float32Array(rows * 16) }], timing: { startNs: 0, inputNs: 0, inferNs: 0, outputNs: 0 } })));
  },
  onFailure() {}, close: async () => {},
};
const pool = new InstancePool([instance], { restart: async () => instance, maxConsecutiveFailures: 1, backoffMs: 1, onDeath() {}, onRestart() {}, onGiveUp() {} }, 1);
const batcher = new DynamicBatcher({ modelName: 'mlp', version: '1', config, pool, statistics: new ModelStatistics() }, config.dynamic_batching);
const row = new Float32Array(256).fill(0.5);
const request = () => ({ model: 'mlp', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], data: row }], outputs: [{ name: 'OUTPUT0' }] });
// Waves of 32 requests arriving one per turn while the instance is idle (the batch waits for its delay or its 32nd).
async function wave(n: number) {
  const answers = [];
  for (let i = 0; i < n; i++) { answers.push(batcher.enqueue(request())); if (i % 4 === 3) await new Promise((r) => setImmediate(r)); }
  await Promise.all(answers);
}
for (let i = 0; i < 200; i++) await wave(32);
for (let round = 0; round < 5; round++) {
  const t = process.cpuUsage();
  for (let i = 0; i < 2000; i++) await wave(32);
  const c = process.cpuUsage(t);
  console.log(`${root}: ${((c.user + c.system) / (2000 * 32)).toFixed(2)} µs CPU per request`);
}
