/**
 * The CPU reference of the cuda backend: runs a DensePlan as the GPU does, in the plan's
 * precision. Weights and every step's output are rounded to FP16 or BF16 (round to
 * nearest even) as they are stored on the GPU; sums are formed in double precision
 * where cuBLASLt accumulates in FP32, so the two differ by accumulation order only.
 * It serves KIND_CPU instances of `backend: "cuda"` and is what GPU results are
 * checked against.
 */
import { bf16Bits, bf16Value, fp16Bits, fp16Value } from '../../core/index.js';
import type { DensePlan, DenseStep, Precision } from './dense-plan.js';

export function rounding(precision: Precision): (value: number) => number {
  if (precision === 'FP16') return (v) => fp16Value(fp16Bits(v));
  if (precision === 'BF16') return (v) => bf16Value(bf16Bits(Math.fround(v)));
  return Math.fround;
}

function roundAll(values: Float32Array, round: (v: number) => number): Float32Array {
  if (round === Math.fround) return values;
  return values.map(round);
}

export class DenseReference {
  private readonly round: (value: number) => number;
  private readonly weights: Float32Array[];

  constructor(private readonly plan: DensePlan) {
    this.round = rounding(plan.precision);
    this.weights = plan.weights.map((w) => roundAll(w.values, this.round));
  }

  /** inputs[i] holds rows × widths[plan.inputs[i]] values; returns one array per plan output. */
  run(rows: number, inputs: Float32Array[]): Float32Array[] {
    const { plan, round } = this;
    const values: (Float32Array | undefined)[] = new Array(plan.widths.length);
    plan.inputs.forEach((slot, i) => {
      const expected = rows * plan.widths[slot];
      if (inputs[i].length !== expected) throw new Error(`input ${i}: expected ${expected} values, got ${inputs[i].length}`);
      values[slot] = roundAll(inputs[i], round);
    });
    for (const step of plan.steps) values[step.output] = this.step(step, rows, values);
    return plan.outputs.map((slot) => values[slot]!);
  }

  private step(step: DenseStep, rows: number, values: (Float32Array | undefined)[]): Float32Array {
    const { plan, round } = this;
    const input = values[step.input]!;
    const width = plan.widths[step.input];
    const out = new Float32Array(rows * plan.widths[step.output]);
    switch (step.op) {
      case 'MatMul': {
        const w = this.weights[step.weight];
        const { rows: wRows, cols: wCols } = plan.weights[step.weight];
        const m = plan.widths[step.output];
        const bias = step.bias >= 0 ? this.weights[step.bias] : undefined;
        const sums = new Float64Array(m);
        for (let r = 0; r < rows; r++) {
          const x = r * width;
          if (step.transposeWeight) {
            for (let o = 0; o < m; o++) {
              let acc = 0;
              const row = o * wCols;
              for (let k = 0; k < width; k++) acc += input[x + k] * w[row + k];
              sums[o] = acc;
            }
          } else {
            sums.fill(0);
            for (let k = 0; k < wRows; k++) {
              const a = input[x + k];
              if (a === 0) continue;
              const row = k * wCols;
              for (let o = 0; o < m; o++) sums[o] += a * w[row + o];
            }
          }
          for (let o = 0; o < m; o++) {
            let v = step.alpha * sums[o] + (bias ? bias[o] : 0);
            if (step.relu && v < 0) v = 0;
            out[r * m + o] = round(v);
          }
        }
        return out;
      }
      case 'Add': {
        const other = values[step.other]!;
        for (let i = 0; i < out.length; i++) out[i] = round(input[i] + other[i]);
        return out;
      }
      case 'AddBias': {
        const bias = this.weights[step.weight];
        for (let i = 0; i < out.length; i++) out[i] = round(input[i] + bias[i % width]);
        return out;
      }
      case 'Relu':
        for (let i = 0; i < out.length; i++) out[i] = input[i] > 0 ? input[i] : 0;
        return out;
      case 'Sigmoid':
        for (let i = 0; i < out.length; i++) out[i] = round(1 / (1 + Math.exp(-input[i])));
        return out;
      case 'Tanh':
        for (let i = 0; i < out.length; i++) out[i] = round(Math.tanh(input[i]));
        return out;
      case 'Softmax':
        for (let r = 0; r < rows; r++) {
          const start = r * width;
          let max = -Infinity;
          for (let c = 0; c < width; c++) max = Math.max(max, input[start + c]);
          let sum = 0;
          for (let c = 0; c < width; c++) sum += Math.exp(input[start + c] - max);
          for (let c = 0; c < width; c++) out[start + c] = round(Math.exp(input[start + c] - max) / sum);
        }
        return out;
    }
  }
}
