import { dirname } from 'node:path';
import { datatypeFromConfig } from '../../core/index.js';
import type { ConfiguredTensor, InstanceOptions, ModelInstance, TensorSignature } from '../backend.js';
import { WorkerInstance } from '../worker-instance.js';
import type { InitializeArgs } from './model-api.js';
import type { ModelWorkerData } from './model-worker-data.js';

/** A JavaScript model declares nothing itself: its signature is what the configuration says. */
function signatureOf(tensors: readonly ConfiguredTensor[], batching: boolean): TensorSignature[] {
  return tensors.map((t) => ({
    name: t.name,
    datatype: datatypeFromConfig(t.data_type),
    nativeType: t.data_type,
    shape: batching ? [-1, ...t.dims] : [...t.dims],
  }));
}

/** Starts one worker thread that imports the model's module and serves one instance of it. */
export function loadJavaScriptInstance(options: InstanceOptions): Promise<ModelInstance> {
  const { config } = options;
  const batching = config.max_batch_size > 0;
  const initializeArgs: InitializeArgs = {
    modelName: options.modelName,
    modelVersion: options.version,
    instanceName: options.instanceName,
    modelDirectory: dirname(dirname(options.modelPath)),
    config,
  };
  const workerData: ModelWorkerData = {
    modelPath: options.modelPath,
    initializeArgs,
    signature: { inputs: signatureOf(config.input, batching), outputs: signatureOf(config.output, batching) },
    batching,
  };
  return WorkerInstance.start({
    callerUrl: import.meta.url,
    moduleBaseName: 'model-worker',
    workerData,
    instanceName: options.instanceName,
    modelLabel: `'${options.modelName}' version ${options.version}`,
    sendRequests: true,
  });
}
