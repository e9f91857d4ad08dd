// Weights and shapes of the example `convnet` model, the bundled model where compute
// dominates (a few hundred microseconds per row on one core). They live apart from the
// generator so that tests can compute the model's reference output from the same numbers.

import { mulberry32 } from './mlp-weights.js';

/** Input image: channels, height, width (NCHW without the batch dimension). */
export const CONVNET_CHANNELS = 3;
export const CONVNET_SIZE = 32;
/** Output channels of the three 3×3 convolutions. */
export const CONVNET_FILTERS = [64, 128, 128] as const;
export const CONVNET_CLASSES = 10;
export const CONVNET_SEED = 0x636f6e76; // "conv"

/**
 * Convolution weights are [out, in, 3, 3] row-major and biases [out]; the classifier is
 * [classes, filters] (PyTorch layout). The model computes
 * conv1 → ReLU → 2×2 max-pool → conv2 → ReLU → 2×2 max-pool → conv3 → ReLU →
 * global average pool → dense, every convolution 3×3 with padding 1 (same size).
 */
export interface ConvnetWeights {
  conv: { weight: Float32Array; bias: Float32Array; inChannels: number; outChannels: number }[];
  fcWeight: Float32Array;
  fcBias: Float32Array;
}

function uniform(next: () => number, count: number, limit: number): Float32Array {
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = (next() * 2 - 1) * limit;
  return out;
}

/** He-uniform weights and ±1/sqrt(fan_in) biases, drawn layer by layer from one mulberry32 stream. */
export function convnetWeights(): ConvnetWeights {
  const next = mulberry32(CONVNET_SEED);
  let inChannels: number = CONVNET_CHANNELS;
  const conv = CONVNET_FILTERS.map((outChannels) => {
    const fanIn = inChannels * 9;
    const layer = {
      weight: uniform(next, outChannels * fanIn, Math.sqrt(6 / fanIn)),
      bias: uniform(next, outChannels, 1 / Math.sqrt(fanIn)),
      inChannels,
      outChannels,
    };
    inChannels = outChannels;
    return layer;
  });
  const fcWeight = uniform(next, CONVNET_CLASSES * inChannels, Math.sqrt(6 / inChannels));
  const fcBias = uniform(next, CONVNET_CLASSES, 1 / Math.sqrt(inChannels));
  return { conv, fcWeight, fcBias };
}
