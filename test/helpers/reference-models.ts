/** The example models' outputs computed in plain TypeScript, independently of ONNX Runtime. */
import { MLP_HIDDEN, MLP_INPUT, MLP_OUTPUT, mlpWeights } from '../../model_repository/mlp-weights.js';

export function int32Sum(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => (x + b[i]) | 0);
}

export function int32Difference(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => (x - b[i]) | 0);
}

export function float32Sum(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => Math.fround(Math.fround(x) + Math.fround(b[i])));
}

export function float32Difference(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => Math.fround(Math.fround(x) - Math.fround(b[i])));
}

let weights: ReturnType<typeof mlpWeights> | undefined;

function dense(input: Float64Array, weight: Float32Array, bias: Float32Array, outSize: number, relu: boolean): Float64Array {
  const inSize = input.length;
  const out = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    let acc = bias[o];
    for (let i = 0; i < inSize; i++) acc += weight[o * inSize + i] * input[i];
    out[o] = relu && acc < 0 ? 0 : acc;
  }
  return out;
}

/** One row of `mlp`: 256 inputs → 16 outputs. */
export function mlpRow(row: readonly number[]): number[] {
  if (row.length !== MLP_INPUT) throw new Error(`mlp takes ${MLP_INPUT} values`);
  weights ??= mlpWeights();
  const h1 = dense(Float64Array.from(row, Math.fround), weights.w1, weights.b1, MLP_HIDDEN, true);
  const h2 = dense(h1, weights.w2, weights.b2, MLP_HIDDEN, true);
  return Array.from(dense(h2, weights.w3, weights.b3, MLP_OUTPUT, false));
}
