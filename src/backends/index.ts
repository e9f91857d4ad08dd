import { InferenceError } from '../core/index.js';
import type { InstanceOptions, ModelInstance } from './backend.js';
import { OnnxRuntimeInstance } from './onnxruntime/onnxruntime-instance.js';

export type { ExecutionResult, ExecutionTiming, InstanceOptions, ModelInstance, ModelSignature, TensorSignature } from './backend.js';

/** The backend named by a config's `backend`, or implied by its `platform`. */
export function backendNameFor(platform: string, backend: string): string | undefined {
  if (backend) return backend;
  if (platform === 'onnxruntime_onnx') return 'onnxruntime';
  return undefined;
}

/** The model file a backend loads when the config does not name one. */
export function defaultModelFilename(backend: string): string | undefined {
  return backend === 'onnxruntime' ? 'model.onnx' : undefined;
}

export async function loadInstance(backend: string, options: InstanceOptions): Promise<ModelInstance> {
  if (backend === 'onnxruntime') return OnnxRuntimeInstance.load(options);
  throw new InferenceError('INVALID_ARG', `unknown backend '${backend}' for model '${options.modelName}'`);
}
