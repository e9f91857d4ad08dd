/**
 * Which requests keep their CUDA shared memory tensors on the device. A model of the cuda
 * backend reads its inputs from, and writes its outputs to, regions on the device it runs
 * on without a copy through host memory (the backend decides per execution, since only it
 * knows its instance's device; see backends/cuda/cuda-instance.ts). For every other model
 * (other backends, ensembles, a response cache that hashes the inputs, the sequence
 * batcher's state), the inputs are copied to the host here, before anything else sees them,
 * and the outputs are written from the host as before.
 */
import { materializeDeviceInputs, pinDeviceTensors, type DeviceOutputTarget, type InferenceRequest } from '../../core/index.js';
import type { ModelConfig } from '../../repository/index.js';
import type { SharedMemoryOutput } from './shared-memory-manager.js';

/** Whether a model's requests may keep their tensors on the device until its backend runs them. */
export function takesDeviceTensors(config: ModelConfig): boolean {
  return (
    config.backend === 'cuda' &&
    !config.sequence_batching &&
    !config.response_cache?.enable &&
    config.model_transaction_policy?.decoupled !== true
  );
}

/**
 * Routes a request's device tensors for `config`'s model, then answers it with `run`: its
 * device inputs copied to the host, or kept, with its CUDA shared memory outputs offered to
 * the backend as device targets. Kept tensors are pinned until the answer has been
 * delivered: their regions stay mapped meanwhile, even if unregistered.
 */
export function routeDeviceTensors<T>(
  request: InferenceRequest,
  config: ModelConfig,
  outputs: ReadonlyMap<string, SharedMemoryOutput> | undefined,
  run: () => Promise<T>,
): Promise<T> {
  if (!takesDeviceTensors(config)) {
    materializeDeviceInputs(request);
    return run();
  }
  let targets: Map<string, DeviceOutputTarget> | undefined;
  for (const [name, output] of outputs ?? []) {
    const target = output.deviceTarget();
    if (target) (targets ??= new Map()).set(name, target);
  }
  if (targets) request.deviceOutputs = targets;
  const release = pinDeviceTensors(request);
  if (!release) return run();
  let answer: Promise<T>;
  try {
    answer = run();
  } catch (err) {
    release();
    throw err;
  }
  answer.then(release, release);
  return answer;
}
