import type { ExecutionBatch, ExecutionResult, InstanceOptions, ModelInstance, ModelSignature } from '../backend.js';
import { WorkerInstance } from '../worker-instance.js';
import { deviceBatch } from './device-batch.js';
import { PRECISIONS, type Precision } from './dense-plan.js';
import type { DenseWorkerData } from './dense-worker-data.js';

/** config `parameters { key: "precision" value: { string_value: "FP16" } }`; FP32 when absent. */
function precisionParameter(parameters: Record<string, string>): Precision {
  const text = parameters['precision'] ?? 'FP32';
  if (!(PRECISIONS as readonly string[]).includes(text)) throw new Error(`parameter 'precision' must be one of ${PRECISIONS.join(', ')}, got '${text}'`);
  return text as Precision;
}

/**
 * An instance of `backend: "cuda"` as the scheduler sees it: its worker, plus the choice,
 * per execution, of the direct device path (device-batch.ts) or the host one.
 */
class CudaInstance implements ModelInstance {
  constructor(
    private readonly worker: WorkerInstance,
    private readonly gpuDevice: number | undefined,
  ) {}

  get name(): string {
    return this.worker.name;
  }

  get signature(): ModelSignature {
    return this.worker.signature;
  }

  async execute(batch: ExecutionBatch): Promise<ExecutionResult> {
    const routed = deviceBatch(batch, this.gpuDevice, this.worker.signature);
    try {
      const result = await this.worker.execute(routed.batch);
      routed.written();
      return result;
    } finally {
      routed.release();
    }
  }

  onFailure(listener: (error: Error) => void): void {
    this.worker.onFailure(listener);
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}

/** Starts one instance of `backend: "cuda"`: on its GPU for KIND_GPU, on the CPU reference otherwise. */
export async function loadCudaInstance(options: InstanceOptions): Promise<ModelInstance> {
  const workerData: DenseWorkerData = { modelPath: options.modelPath, precision: precisionParameter(options.parameters), gpuDevice: options.gpuDevice };
  const worker = await WorkerInstance.start({
    callerUrl: import.meta.url,
    moduleBaseName: 'dense-worker',
    workerData,
    instanceName: options.instanceName,
    modelLabel: `'${options.modelName}' version ${options.version}`,
    // deviceBatch() leaves out the per-request part unless the device path needs it.
    sendRequests: true,
  });
  return new CudaInstance(worker, options.gpuDevice);
}
