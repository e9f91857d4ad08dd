import type { InstanceOptions, ModelInstance } from '../backend.js';
import { WorkerInstance } from '../worker-instance.js';
import { PRECISIONS, type Precision } from './dense-plan.js';
import type { DenseWorkerData } from './dense-worker-data.js';

/** config `parameters { key: "precision" value: { string_value: "FP16" } }`; FP32 when absent. */
function precisionParameter(parameters: Record<string, string>): Precision {
  const text = parameters['precision'] ?? 'FP32';
  if (!(PRECISIONS as readonly string[]).includes(text)) throw new Error(`parameter 'precision' must be one of ${PRECISIONS.join(', ')}, got '${text}'`);
  return text as Precision;
}

/** Starts one instance of `backend: "cuda"`: on its GPU for KIND_GPU, on the CPU reference otherwise. */
export function loadCudaInstance(options: InstanceOptions): Promise<ModelInstance> {
  const workerData: DenseWorkerData = { modelPath: options.modelPath, precision: precisionParameter(options.parameters), gpuDevice: options.gpuDevice };
  return WorkerInstance.start({
    callerUrl: import.meta.url,
    moduleBaseName: 'dense-worker',
    workerData,
    instanceName: options.instanceName,
    modelLabel: `'${options.modelName}' version ${options.version}`,
    sendRequests: false,
  });
}
