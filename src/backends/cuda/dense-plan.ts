/**
 * A dense-layer graph as the cuda backend runs it, the TypeScript twin of
 * native/cuda/src/dense-plan.h: steps over row-major [rows, width] values, where rows is
 * the batch. dense-graph.ts compiles ONNX models into it; the native executor and the
 * CPU reference (dense-reference.ts) run it.
 */
export type Precision = 'FP32' | 'FP16' | 'BF16';
export const PRECISIONS: readonly Precision[] = ['FP32', 'FP16', 'BF16'];

export interface DenseWeight {
  values: Float32Array;
  rows: number;
  cols: number;
}

export type DenseStep =
  | {
      op: 'MatMul';
      input: number;
      /** [in, out], or [out, in] with transposeWeight (Gemm transB=1, PyTorch's layout). */
      weight: number;
      transposeWeight: boolean;
      alpha: number;
      /** Added by cuBLASLt's epilogue; -1 for none. */
      bias: number;
      /** Relu applied by the epilogue. */
      relu: boolean;
      output: number;
    }
  | { op: 'Add'; input: number; other: number; output: number }
  | { op: 'AddBias'; input: number; weight: number; output: number }
  | { op: 'Relu' | 'Sigmoid' | 'Tanh' | 'Softmax'; input: number; output: number };

export interface DensePlan {
  precision: Precision;
  /** Values per row of every value. */
  widths: number[];
  /** The values that hold the graph inputs, in the model's input order. */
  inputs: number[];
  outputs: number[];
  weights: DenseWeight[];
  steps: DenseStep[];
}
