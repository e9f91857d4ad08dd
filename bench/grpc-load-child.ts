/**
 * One gRPC load measurement in its own process, so that the generator never shares an
 * event loop with the server. Sends the same pre-encoded ModelInferRequest either as
 * unary ModelInfer calls (`concurrency` calls outstanding on one channel) or on one
 * ModelStreamInfer stream (`concurrency` requests outstanding), for `seconds` after a
 * one-second warm-up, and prints one JSON line: inferences/s, p50/p99 latency, errors
 * and the generator's own CPU use.
 *   grpc-load-child.ts <target> <unary|stream> <concurrency> <seconds> <request base64>
 */
import * as grpc from '@grpc/grpc-js';

const [target, mode, concurrencyText, secondsText, requestBase64] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const seconds = Number(secondsText);
const request = Buffer.from(requestBase64, 'base64');
const identity = (bytes: Buffer) => bytes;
const client = new grpc.Client(target, grpc.credentials.createInsecure());

const WARMUP_MS = 1000;
let measuring = false;
let stopped = false;
let errors = 0;
let latencies = new Float64Array(1 << 20);
let count = 0;

function record(startedAt: number): void {
  if (!measuring) return;
  if (count === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[count++] = performance.now() - startedAt;
}

function unaryLoop(): void {
  if (stopped) return;
  const startedAt = performance.now();
  client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', identity, identity, request, (err) => {
    if (err) errors++;
    else record(startedAt);
    unaryLoop();
  });
}

function runStream(): void {
  const stream = client.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer', identity, identity);
  // Responses come back in order here (one instance, FIFO), so the oldest start time is the one answered.
  const started: number[] = [];
  const send = () => {
    started.push(performance.now());
    stream.write(request);
  };
  stream.on('data', (response: Buffer) => {
    // A ModelStreamInferResponse whose first field (error_message, tag 0x0a) is set is a failed inference.
    if (response[0] === 0x0a) errors++;
    else record(started[0]);
    started.shift();
    if (!stopped) send();
  });
  stream.on('error', () => errors++);
  for (let i = 0; i < concurrency; i++) send();
}

if (mode === 'stream') runStream();
else for (let i = 0; i < concurrency; i++) unaryLoop();

await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
measuring = true;
const cpuBefore = process.cpuUsage();
const startedAt = performance.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
measuring = false;
const elapsedS = (performance.now() - startedAt) / 1000;
const cpu = process.cpuUsage(cpuBefore);
stopped = true;

const sorted = latencies.subarray(0, count).sort();
const percentile = (p: number) => (count === 0 ? NaN : sorted[Math.min(count - 1, Math.floor((p / 100) * count))]);
process.stdout.write(
  `${JSON.stringify({
    inferencesPerSecond: count / elapsedS,
    p50Ms: Number(percentile(50).toFixed(3)),
    p99Ms: Number(percentile(99).toFixed(3)),
    errors,
    generatorCpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsedS) * 100,
  })}\n`,
);
process.exit(0);
