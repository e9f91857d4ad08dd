/** What a session worker needs to create its InferenceSession, chosen on the main thread from the config. */
export interface SessionWorkerData {
  modelPath: string;
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  /** KIND_GPU: the device of onnxruntime's CUDA execution provider. */
  gpuDevice?: number;
}
