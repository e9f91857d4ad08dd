// Weights of the example `mlp` model. They live apart from the generator so that
// tests can compute the model's reference output from the same numbers without
// reading the ONNX file back.

export const MLP_INPUT = 256;
export const MLP_HIDDEN = 1024;
export const MLP_OUTPUT = 16;
export const MLP_SEED = 0x6e657265; // "nere"

/**
 * Dense layer parameters, PyTorch `nn.Linear` layout:
 * - `wN` is [out, in] row-major: `wN[o * in + i]` multiplies input `i` for output `o`;
 * - `bN` is [out].
 * Layer 1: 256 → 1024, layer 2: 1024 → 1024, layer 3: 1024 → 16.
 * The model computes `y = W3·relu(W2·relu(W1·x + b1) + b2) + b3`.
 */
export interface MlpWeights {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
  w3: Float32Array;
  b3: Float32Array;
}

/** mulberry32: a tiny 32-bit PRNG, returning uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(next: () => number, count: number, limit: number): Float32Array {
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = (next() * 2 - 1) * limit;
  return out;
}

/**
 * Deterministic weights for `mlp`. Weights are He-uniform (±sqrt(6/fan_in)), which
 * keeps activations O(1) through the ReLUs for inputs in [-1, 1]; biases are
 * uniform in ±1/sqrt(fan_in). Drawn in the order w1, b1, w2, b2, w3, b3 from one
 * mulberry32 stream seeded with MLP_SEED.
 */
export function mlpWeights(): MlpWeights {
  const next = mulberry32(MLP_SEED);
  const layer = (fanIn: number, fanOut: number): [Float32Array, Float32Array] => [
    uniform(next, fanOut * fanIn, Math.sqrt(6 / fanIn)),
    uniform(next, fanOut, 1 / Math.sqrt(fanIn)),
  ];
  const [w1, b1] = layer(MLP_INPUT, MLP_HIDDEN);
  const [w2, b2] = layer(MLP_HIDDEN, MLP_HIDDEN);
  const [w3, b3] = layer(MLP_HIDDEN, MLP_OUTPUT);
  return { w1, b1, w2, b2, w3, b3 };
}
