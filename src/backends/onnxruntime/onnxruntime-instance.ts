import type { InstanceOptions, ModelInstance } from '../backend.js';
import { WorkerInstance } from '../worker-instance.js';
import type { SessionWorkerData } from './session-options.js';

const GRAPH_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
type GraphLevel = (typeof GRAPH_LEVELS)[number];

function intParameter(parameters: Record<string, string>, key: string, fallback: number): number {
  const text = parameters[key];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`parameter '${key}' must be a non-negative integer, got '${text}'`);
  return value;
}

/** Triton's `optimization { graph { level } }`: -1 basic only, otherwise everything ORT offers. */
function graphLevel(parameters: Record<string, string>, configLevel: number): GraphLevel {
  const text = parameters['graph_optimization_level'];
  if (text === undefined) return configLevel === -1 ? 'basic' : 'all';
  if (!(GRAPH_LEVELS as readonly string[]).includes(text)) {
    throw new Error(`parameter 'graph_optimization_level' must be one of ${GRAPH_LEVELS.join(', ')}, got '${text}'`);
  }
  return text as GraphLevel;
}

/** Starts one session worker: the main thread never calls session.run, which blocks its thread. */
export function loadOnnxRuntimeInstance(options: InstanceOptions): Promise<ModelInstance> {
  const workerData: SessionWorkerData = {
    modelPath: options.modelPath,
    intraOpThreads: intParameter(options.parameters, 'intra_op_thread_count', options.defaultIntraOpThreads),
    interOpThreads: intParameter(options.parameters, 'inter_op_thread_count', 1),
    graphOptimizationLevel: graphLevel(options.parameters, options.graphOptimizationLevel),
    gpuDevice: options.gpuDevice,
  };
  return WorkerInstance.start({
    callerUrl: import.meta.url,
    moduleBaseName: 'session-worker',
    workerData,
    instanceName: options.instanceName,
    modelLabel: `'${options.modelName}' version ${options.version}`,
    sendRequests: false,
  });
}
