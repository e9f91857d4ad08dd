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

/** How long one execute() may take unless the config parameter `execute_timeout_ms` says otherwise. */
const DEFAULT_EXECUTE_TIMEOUT_MS = 30_000;

function executeTimeoutMs(parameters: Record<string, string>, modelName: string): number {
  const text = parameters['execute_timeout_ms'];
  if (text === undefined) return DEFAULT_EXECUTE_TIMEOUT_MS;
  const ms = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(ms) || ms < 0) {
    throw new Error(`model '${modelName}': parameter execute_timeout_ms must be a whole number of milliseconds (0 for no limit), got '${text}'`);
  }
  return ms;
}

/** Starts one worker thread that imports the model's module and serves one instance of it. */
export function loadJavaScriptInstance(options: InstanceOptions): Promise<ModelInstance> {
  const { config } = options;
  let timeoutMs: number;
  try {
    timeoutMs = executeTimeoutMs(options.parameters, options.modelName);
  } catch (err) {
    return Promise.reject(err);
  }
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
    decoupled: config.model_transaction_policy?.decoupled === true,
  };
  return WorkerInstance.start({
    callerUrl: import.meta.url,
    moduleBaseName: 'model-worker',
    workerData,
    instanceName: options.instanceName,
    modelLabel: `'${options.modelName}' version ${options.version}`,
    sendRequests: true,
    call: options.infer,
    executeTimeoutMs: timeoutMs,
    executeTimeoutSource: 'parameter execute_timeout_ms',
  });
}
