import { dirname } from 'node:path';
import { datatypeFromConfig } from '../../core/index.js';
import type { BackendModelConfig, ConfiguredTensor, InstanceOptions, ModelInstance, TensorSignature } from '../backend.js';
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

/**
 * The tensors of a sequence model that its configuration lists only under
 * sequence_batching: each control input (one value per request, of the type its
 * false/true values or CORRID data_type give) and each implicit state, in and out.
 */
function sequenceTensors(config: BackendModelConfig): { inputs: ConfiguredTensor[]; outputs: ConfiguredTensor[] } {
  const batching = config.sequence_batching;
  if (!batching) return { inputs: [], outputs: [] };
  const controls = batching.control_input.flatMap(({ name, control: [control] }) => {
    if (!control) return [];
    const type = control.int32_false_true.length > 0 ? 'TYPE_INT32' : control.fp32_false_true.length > 0 ? 'TYPE_FP32' : control.bool_false_true.length > 0 ? 'TYPE_BOOL' : control.data_type;
    return [{ name, data_type: type, dims: [1] }];
  });
  return {
    inputs: [...controls, ...batching.state.map((s) => ({ name: s.input_name, data_type: s.data_type, dims: s.dims }))],
    outputs: batching.state.map((s) => ({ name: s.output_name, data_type: s.data_type, dims: s.dims })),
  };
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
  const sequence = sequenceTensors(config);
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
    signature: {
      inputs: signatureOf([...config.input, ...sequence.inputs], batching),
      outputs: signatureOf([...config.output, ...sequence.outputs], batching),
    },
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
