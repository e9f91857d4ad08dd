import { InferenceError } from '../core/index.js';
import type { InstanceOptions, ModelInstance } from './backend.js';
import { loadCudaInstance } from './cuda/cuda-instance.js';
import { loadJavaScriptInstance } from './javascript/javascript-instance.js';
import { loadOnnxRuntimeInstance } from './onnxruntime/onnxruntime-instance.js';

export type {
  BackendModelConfig,
  BatchRequest,
  ConfiguredTensor,
  ExecutionBatch,
  ExecutionResult,
  ExecutionTiming,
  InstanceOptions,
  ModelInstance,
  ModelSignature,
  RequestOutcome,
  ResponseSink,
  TensorSignature,
} from './backend.js';
export { ExecutionNotStartedError } from './backend.js';
export { cudaAddon, cudaProbe, type CudaDevice, type CudaProbe, type NvmlReading } from './cuda/cuda-addon.js';
export { ownedTensor } from './worker-protocol.js';
export { requestEnded, requestStarted } from './reply-wait.js';
export type { InitializeArgs, ModelOutputTensor, ModelRequest, ModelResponse, ModelTensor, ResponseSender } from './javascript/model-api.js';

/** The model files each backend looks for when the config does not name one, in order of preference. */
const MODEL_FILENAMES: Readonly<Record<string, readonly string[]>> = {
  onnxruntime: ['model.onnx'],
  javascript: ['model.js', 'model.mjs'],
  cuda: ['model.onnx'],
};

/** The backend named by a config's `backend`, or implied by its `platform`. */
export function backendNameFor(platform: string, backend: string): string | undefined {
  if (backend) return backend;
  if (platform === 'onnxruntime_onnx') return 'onnxruntime';
  return undefined;
}

/** The model file a backend loads when the config does not name one. */
export function defaultModelFilename(backend: string): string | undefined {
  return MODEL_FILENAMES[backend]?.[0];
}

/** Every file name a backend accepts as its model when the config does not name one. */
export function defaultModelFilenames(backend: string): readonly string[] {
  return MODEL_FILENAMES[backend] ?? [];
}

/** The GPUs a backend can place instances on (none, and why, on machines without one). */
export { gpuAvailability, onnxruntimeCudaProvider, type GpuAvailability } from './gpu-availability.js';

export async function loadInstance(backend: string, options: InstanceOptions): Promise<ModelInstance> {
  if (backend === 'onnxruntime') return loadOnnxRuntimeInstance(options);
  if (backend === 'javascript') return loadJavaScriptInstance(options);
  if (backend === 'cuda') return loadCudaInstance(options);
  throw new InferenceError('INVALID_ARG', `unknown backend '${backend}' for model '${options.modelName}'`);
}
