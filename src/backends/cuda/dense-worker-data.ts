import type { Precision } from './dense-plan.js';

/** What a cuda backend instance's worker needs, chosen on the main thread. */
export interface DenseWorkerData {
  modelPath: string;
  precision: Precision;
  /** The CUDA device of a KIND_GPU instance; undefined runs the CPU reference. */
  gpuDevice?: number;
}
