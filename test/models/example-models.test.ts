import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_MODEL_NAMES, generateModels } from '../../model_repository/generate.js';
import {
  MLP_HIDDEN,
  MLP_INPUT,
  MLP_OUTPUT,
  mlpWeights,
  mulberry32,
} from '../../model_repository/mlp-weights.js';
import { CONVNET_CHANNELS, CONVNET_CLASSES, CONVNET_SIZE, convnetWeights } from '../../model_repository/convnet-weights.js';

/** The identity models beyond identity_fp32 and identity_bytes, with a sample of each type's extremes. */
const IDENTITY_TYPES: [string, ort.Tensor.Type, (n: number) => ort.Tensor.DataType][] = [
  ['bool', 'bool', (n) => Uint8Array.from({ length: n }, (_, k) => k % 2)],
  ['uint8', 'uint8', (n) => Uint8Array.from({ length: n }, (_, k) => (k * 37) % 256)],
  ['uint16', 'uint16', (n) => Uint16Array.from({ length: n }, (_, k) => (k * 4099) % 65536)],
  ['uint32', 'uint32', (n) => Uint32Array.from({ length: n }, (_, k) => (k * 0x9e3779b9) >>> 0)],
  ['uint64', 'uint64', (n) => BigUint64Array.from({ length: n }, (_, k) => 2n ** 64n - 1n - BigInt(k) * 0x1234567n)],
  ['int8', 'int8', (n) => Int8Array.from({ length: n }, (_, k) => ((k * 37) % 256) - 128)],
  ['int16', 'int16', (n) => Int16Array.from({ length: n }, (_, k) => ((k * 4099) % 65536) - 32768)],
  ['int32', 'int32', (n) => Int32Array.from({ length: n }, (_, k) => (k * 0x9e3779b9) | 0)],
  ['int64', 'int64', (n) => BigInt64Array.from({ length: n }, (_, k) => -(2n ** 63n) + BigInt(k) * 0x123456789n)],
  ['fp16', 'float16', (n) => Uint16Array.from({ length: n }, (_, k) => (k * 0x3c01) & 0x7bff)],
  ['fp64', 'float64', (n) => Float64Array.from({ length: n }, (_, k) => Math.PI * 10 ** (k % 300) * (k % 2 ? -1 : 1))],
];

const REPOSITORY = fileURLToPath(new URL('../../model_repository/', import.meta.url));
const BATCH_SIZES = [1, 3];

const sessions = new Map<string, ort.InferenceSession>();

beforeAll(async () => {
  for (const name of EXAMPLE_MODEL_NAMES) {
    sessions.set(name, await ort.InferenceSession.create(join(REPOSITORY, name, '1', 'model.onnx')));
  }
});

afterAll(async () => {
  for (const session of sessions.values()) await session.release();
});

function session(name: string): ort.InferenceSession {
  const s = sessions.get(name);
  if (!s) throw new Error(`no session for model '${name}'`);
  return s;
}

async function run(
  name: string,
  feeds: Record<string, ort.Tensor>,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  return session(name).run(feeds);
}

/** Distinct, deterministic int32 values, some near the limits so that + and - wrap. */
function int32Inputs(count: number, salt: number): Int32Array {
  const out = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    out[k] = k % 5 === 0 ? 0x7fffffff - k - salt : k % 5 === 1 ? -0x80000000 + k + salt : (k + 1) * (salt + 7) * (k % 2 ? -1 : 1);
  }
  return out;
}

function float32Inputs(count: number, seed: number, scale = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = (next() * 2 - 1) * scale;
  return out;
}

describe('example model repository', () => {
  it('has a config.pbtxt and version 1 model.onnx for every model', async () => {
    expect(EXAMPLE_MODEL_NAMES).toEqual([
      'simple', 'add_sub', 'identity_fp32', 'identity_bytes', 'mlp',
      ...IDENTITY_TYPES.map(([suffix]) => `identity_${suffix}`),
      'simple_string', 'simple_int8',
      'simple_sequence', 'simple_dyna_sequence', 'simple_string_dyna_sequence',
      'convnet',
    ]);
    for (const name of EXAMPLE_MODEL_NAMES) {
      const config = await readFile(join(REPOSITORY, name, 'config.pbtxt'), 'utf8');
      expect(config).toContain(`name: "${name}"`);
      expect(config).toContain('platform: "onnxruntime_onnx"');
      expect(config).toContain('kind: KIND_CPU');
      expect(config).not.toContain('dynamic_batching');
    }
  });

  it('is what the generator writes, byte for byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nereid-models-'));
    try {
      const written = await generateModels(dir);
      expect(written).toHaveLength(EXAMPLE_MODEL_NAMES.length * 2);
      for (const path of written) {
        const fresh = await readFile(join(dir, path));
        const committed = await readFile(join(REPOSITORY, path));
        expect(fresh.equals(committed), `${path} differs from the committed file`).toBe(true);
      }
      const again = await generateModels(dir);
      expect(again).toEqual(written);
      const entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(dir.length + 1).split('\\').join('/'))
        .sort();
      expect(entries).toEqual([...written].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names graph inputs and outputs as config.pbtxt does', () => {
    const expected: Record<string, [string[], string[]]> = {
      simple: [['INPUT0', 'INPUT1'], ['OUTPUT0', 'OUTPUT1']],
      add_sub: [['INPUT0', 'INPUT1'], ['OUTPUT0', 'OUTPUT1']],
      identity_fp32: [['INPUT0'], ['OUTPUT0']],
      identity_bytes: [['INPUT0'], ['OUTPUT0']],
      mlp: [['INPUT0'], ['OUTPUT0']],
      convnet: [['INPUT0'], ['OUTPUT0']],
      simple_string: [['INPUT0', 'INPUT1'], ['OUTPUT0', 'OUTPUT1']],
      simple_int8: [['INPUT0', 'INPUT1'], ['OUTPUT0', 'OUTPUT1']],
      // Sequence models: the control inputs and states of their sequence_batching block follow the configured tensors.
      simple_sequence: [['INPUT', 'START', 'READY'], ['OUTPUT']],
      simple_dyna_sequence: [['INPUT', 'START', 'END', 'READY', 'CORRID'], ['OUTPUT']],
      simple_string_dyna_sequence: [['INPUT', 'START', 'END', 'READY', 'CORRID', 'ACC_IN'], ['OUTPUT', 'ACC_OUT']],
      ...Object.fromEntries(IDENTITY_TYPES.map(([suffix]) => [`identity_${suffix}`, [['INPUT0'], ['OUTPUT0']]])),
    };
    for (const name of EXAMPLE_MODEL_NAMES) {
      expect([session(name).inputNames, session(name).outputNames], name).toEqual(expected[name]);
    }
  });
});

/** One image through convnet in float64: 3×3 convolutions (padding 1) with ReLU, 2×2 max-pools, global average, dense. */
function convnetReference(image: Float32Array): Float64Array {
  const w = convnetWeights();
  let size = CONVNET_SIZE;
  let x = Float64Array.from(image);
  w.conv.forEach((layer, k) => {
    const y = new Float64Array(layer.outChannels * size * size);
    for (let o = 0; o < layer.outChannels; o++) {
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          let acc = layer.bias[o];
          for (let i = 0; i < layer.inChannels; i++) {
            for (let dr = -1; dr <= 1; dr++) {
              const rr = r + dr;
              if (rr < 0 || rr >= size) continue;
              for (let dc = -1; dc <= 1; dc++) {
                const cc = c + dc;
                if (cc < 0 || cc >= size) continue;
                acc += layer.weight[((o * layer.inChannels + i) * 3 + dr + 1) * 3 + dc + 1] * x[(i * size + rr) * size + cc];
              }
            }
          }
          y[(o * size + r) * size + c] = acc > 0 ? acc : 0;
        }
      }
    }
    x = y;
    if (k < w.conv.length - 1) {
      const half = size / 2;
      const pooled = new Float64Array(layer.outChannels * half * half);
      for (let o = 0; o < layer.outChannels; o++) {
        for (let r = 0; r < half; r++) {
          for (let c = 0; c < half; c++) {
            const at = (dr: number, dc: number) => x[(o * size + 2 * r + dr) * size + 2 * c + dc];
            pooled[(o * half + r) * half + c] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
          }
        }
      }
      x = pooled;
      size = half;
    }
  });
  const channels = w.conv[w.conv.length - 1].outChannels;
  const features = new Float64Array(channels);
  for (let o = 0; o < channels; o++) {
    let sum = 0;
    for (let p = 0; p < size * size; p++) sum += x[o * size * size + p];
    features[o] = sum / (size * size);
  }
  const out = new Float64Array(CONVNET_CLASSES);
  for (let k = 0; k < CONVNET_CLASSES; k++) {
    let acc = w.fcBias[k];
    for (let o = 0; o < channels; o++) acc += w.fcWeight[k * channels + o] * features[o];
    out[k] = acc;
  }
  return out;
}

describe.each(BATCH_SIZES)('batch size %i', (batch) => {
  it('simple: int32 sum and difference, wrapping around', async () => {
    const a = int32Inputs(batch * 16, 1);
    const b = int32Inputs(batch * 16, 2).reverse();
    const out = await run('simple', {
      INPUT0: new ort.Tensor('int32', a, [batch, 16]),
      INPUT1: new ort.Tensor('int32', b, [batch, 16]),
    });
    expect(out.OUTPUT0.type).toBe('int32');
    expect(out.OUTPUT0.dims).toEqual([batch, 16]);
    expect(out.OUTPUT1.dims).toEqual([batch, 16]);
    const sum = Int32Array.from(a, (x, k) => (x + b[k]) | 0);
    const diff = Int32Array.from(a, (x, k) => (x - b[k]) | 0);
    expect(sum.some((s, k) => s !== a[k] + b[k]), 'inputs exercise wrap-around').toBe(true);
    expect(Array.from(out.OUTPUT0.data as Int32Array)).toEqual(Array.from(sum));
    expect(Array.from(out.OUTPUT1.data as Int32Array)).toEqual(Array.from(diff));
  });

  it('add_sub: float32 sum and difference', async () => {
    const a = float32Inputs(batch * 16, 11, 100);
    const b = float32Inputs(batch * 16, 12, 100);
    const out = await run('add_sub', {
      INPUT0: new ort.Tensor('float32', a, [batch, 16]),
      INPUT1: new ort.Tensor('float32', b, [batch, 16]),
    });
    expect(out.OUTPUT0.type).toBe('float32');
    expect(out.OUTPUT0.dims).toEqual([batch, 16]);
    expect(out.OUTPUT1.dims).toEqual([batch, 16]);
    // One float32 add or subtract of float32 operands is exactly fround of the double result.
    expect(Array.from(out.OUTPUT0.data as Float32Array)).toEqual(Array.from(a, (x, k) => Math.fround(x + b[k])));
    expect(Array.from(out.OUTPUT1.data as Float32Array)).toEqual(Array.from(a, (x, k) => Math.fround(x - b[k])));
  });

  it('identity_fp32: returns its input for any row length', async () => {
    for (const n of [1, 5, 300]) {
      const a = float32Inputs(batch * n, 100 + n);
      const out = await run('identity_fp32', { INPUT0: new ort.Tensor('float32', a, [batch, n]) });
      expect(out.OUTPUT0.type).toBe('float32');
      expect(out.OUTPUT0.dims).toEqual([batch, n]);
      expect(Array.from(out.OUTPUT0.data as Float32Array)).toEqual(Array.from(a));
    }
  });

  it('identity_bytes: returns its input strings', async () => {
    // No NUL bytes: onnxruntime-node passes strings as C strings and cuts them at the first NUL.
    const words = ['', 'nereid', 'héllo wörld', '🌊 tide', 'a'.repeat(1000), 'tab\there'];
    for (const n of [1, 4]) {
      const a = Array.from({ length: batch * n }, (_, k) => `${words[k % words.length]}#${k}`);
      const out = await run('identity_bytes', { INPUT0: new ort.Tensor('string', a, [batch, n]) });
      expect(out.OUTPUT0.type).toBe('string');
      expect(out.OUTPUT0.dims).toEqual([batch, n]);
      expect(out.OUTPUT0.data).toEqual(a);
    }
  });

  it.each(IDENTITY_TYPES)('identity_%s: returns its input bit for bit', async (suffix, type, values) => {
    const data = values(batch * 5);
    const out = await run(`identity_${suffix}`, { INPUT0: new ort.Tensor(type, data as never, [batch, 5]) });
    expect(out.OUTPUT0.type).toBe(type);
    expect(out.OUTPUT0.dims).toEqual([batch, 5]);
    expect(Array.from(out.OUTPUT0.data as ArrayLike<unknown>)).toEqual(Array.from(data as ArrayLike<unknown>));
  });

  it('simple_string: decimal strings in, their int32 sum and difference out as strings', async () => {
    const a = int32Inputs(batch * 16, 3);
    const b = int32Inputs(batch * 16, 4).reverse();
    const out = await run('simple_string', {
      INPUT0: new ort.Tensor('string', Array.from(a, String), [batch, 16]),
      INPUT1: new ort.Tensor('string', Array.from(b, String), [batch, 16]),
    });
    expect(out.OUTPUT0.type).toBe('string');
    expect(out.OUTPUT0.dims).toEqual([batch, 16]);
    expect(out.OUTPUT0.data).toEqual(Array.from(a, (x, k) => String((x + b[k]) | 0)));
    expect(out.OUTPUT1.data).toEqual(Array.from(a, (x, k) => String((x - b[k]) | 0)));
  });

  it('simple_int8: int8 sum and difference, wrapping around', async () => {
    const a = Int8Array.from({ length: batch * 16 }, (_, k) => ((k * 29) % 256) - 128);
    const b = Int8Array.from({ length: batch * 16 }, (_, k) => 127 - ((k * 13) % 256));
    const out = await run('simple_int8', {
      INPUT0: new ort.Tensor('int8', a, [batch, 16]),
      INPUT1: new ort.Tensor('int8', b, [batch, 16]),
    });
    expect(out.OUTPUT0.type).toBe('int8');
    expect(Array.from(out.OUTPUT0.data as Int8Array)).toEqual(Array.from(a, (x, k) => (((x + b[k]) << 24) >> 24)));
    expect(Array.from(out.OUTPUT1.data as Int8Array)).toEqual(Array.from(a, (x, k) => (((x - b[k]) << 24) >> 24)));
  });

  it('convnet: matches a float64 reference computed from convnetWeights()', async () => {
    const pixels = CONVNET_CHANNELS * CONVNET_SIZE * CONVNET_SIZE;
    const x = float32Inputs(batch * pixels, 2000 + batch);
    const out = await run('convnet', { INPUT0: new ort.Tensor('float32', x, [batch, CONVNET_CHANNELS, CONVNET_SIZE, CONVNET_SIZE]) });
    expect(out.OUTPUT0.type).toBe('float32');
    expect(out.OUTPUT0.dims).toEqual([batch, CONVNET_CLASSES]);
    const got = out.OUTPUT0.data as Float32Array;
    // The reference is slow in JavaScript: the first and last rows are enough to show rows do not mix.
    let maxAbs = 0;
    for (const r of new Set([0, batch - 1])) {
      const y = convnetReference(x.subarray(r * pixels, (r + 1) * pixels));
      for (let k = 0; k < CONVNET_CLASSES; k++) {
        const actual = got[r * CONVNET_CLASSES + k];
        maxAbs = Math.max(maxAbs, Math.abs(y[k]));
        expect(Math.abs(actual - y[k]), `row ${r} output ${k}: got ${actual}, want ${y[k]}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(y[k])));
      }
    }
    expect(maxAbs).toBeGreaterThan(0.1);
    expect(maxAbs).toBeLessThan(100);
  });

  it('mlp: matches a float64 reference computed from mlpWeights()', async () => {
    const w = mlpWeights();
    const x = float32Inputs(batch * MLP_INPUT, 1000 + batch);
    const out = await run('mlp', { INPUT0: new ort.Tensor('float32', x, [batch, MLP_INPUT]) });
    expect(out.OUTPUT0.type).toBe('float32');
    expect(out.OUTPUT0.dims).toEqual([batch, MLP_OUTPUT]);
    const got = out.OUTPUT0.data as Float32Array;

    const dense = (input: Float64Array, weight: Float32Array, bias: Float32Array, relu: boolean): Float64Array => {
      const fanIn = input.length;
      const y = new Float64Array(bias.length);
      for (let o = 0; o < bias.length; o++) {
        let acc = bias[o];
        for (let i = 0; i < fanIn; i++) acc += weight[o * fanIn + i] * input[i];
        y[o] = relu && acc < 0 ? 0 : acc;
      }
      return y;
    };
    let maxAbs = 0;
    for (let r = 0; r < batch; r++) {
      const row = Float64Array.from(x.subarray(r * MLP_INPUT, (r + 1) * MLP_INPUT));
      const h1 = dense(row, w.w1, w.b1, true);
      const h2 = dense(h1, w.w2, w.b2, true);
      const y = dense(h2, w.w3, w.b3, false);
      expect(h1.length + h2.length).toBe(2 * MLP_HIDDEN);
      for (let o = 0; o < MLP_OUTPUT; o++) {
        const actual = got[r * MLP_OUTPUT + o];
        maxAbs = Math.max(maxAbs, Math.abs(y[o]));
        expect(Math.abs(actual - y[o]), `row ${r} output ${o}: got ${actual}, want ${y[o]}`).toBeLessThanOrEqual(
          1e-4 * Math.max(1, Math.abs(y[o])),
        );
      }
    }
    // Outputs of order one, so the tolerance above is a tight check rather than a vacuous one.
    expect(maxAbs).toBeGreaterThan(0.1);
    expect(maxAbs).toBeLessThan(100);
  });
});
