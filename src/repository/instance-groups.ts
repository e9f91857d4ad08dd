import { availableParallelism } from 'node:os';
import type { ModelConfig, ModelInstanceGroup } from './model-config.js';

/** Backends for which Triton starts two CPU instances when a group leaves `count` unset. */
const TWO_CPU_INSTANCES = new Set(['onnxruntime', 'tensorflow']);

/**
 * Triton's instance group normalization: every group named (`<model>_<index>`, or the
 * model's name for the group made when the config has none), KIND_AUTO resolved to
 * KIND_CPU when the backend has no GPU, and a count where none is given. A group that
 * cannot be honoured fails the load with its reason.
 */
export function normalizeInstanceGroups(config: ModelConfig, backend: string, gpus: readonly number[]): ModelInstanceGroup[] {
  const given = config.instance_group.length > 0 ? config.instance_group : [{ ...defaultGroup(), name: config.name }];
  return given.map((group, index) => {
    const name = group.name || `${config.name}_${index}`;
    const where = `instance group '${name}' of model '${config.name}'`;
    let kind = group.kind;
    if (kind === 'KIND_AUTO') kind = gpus.length > 0 && group.gpus.every((id) => gpus.includes(id)) ? 'KIND_GPU' : 'KIND_CPU';
    if (kind === 'KIND_MODEL') throw new Error(`${where} has kind KIND_MODEL, which only TensorFlow models support`);
    if (group.kind === 'KIND_CPU' && group.gpus.length > 0) {
      throw new Error(`${where} has kind KIND_CPU but specifies one or more GPUs (gpus: [${group.gpus.join(', ')}])`);
    }
    if (kind === 'KIND_GPU') {
      if (gpus.length === 0) {
        throw new Error(`${where} asks for KIND_GPU but no GPU is available to the ${backend} backend of this server (use KIND_CPU, or KIND_AUTO to fall back to the CPU)`);
      }
      const missing = group.gpus.filter((id) => !gpus.includes(id));
      if (missing.length > 0) throw new Error(`${where} asks for GPU(s) ${missing.join(', ')}, which do not exist; available: ${gpus.join(', ')}`);
    }
    const count = group.count >= 1 ? group.count : kind === 'KIND_CPU' && TWO_CPU_INSTANCES.has(backend) ? 2 : 1;
    // A KIND_AUTO group that fell back to the CPU keeps no GPU ids: it uses none.
    const groupGpus = kind === 'KIND_CPU' ? [] : group.gpus.length > 0 ? [...group.gpus] : [...gpus];
    return { ...group, name, kind, count, gpus: groupGpus };
  });
}

/** Triton names instance k of a group `<group>_<k>`. */
export function instanceNames(groups: readonly ModelInstanceGroup[]): string[] {
  return groups.flatMap((group) => Array.from({ length: group.count }, (_, k) => `${group.name}_${k}`));
}

/**
 * Intra-op threads per instance when the config does not set intra_op_thread_count:
 * the main thread keeps a core for the sockets and the instances share the rest, so
 * that instances × threads never exceeds the cores.
 */
export function defaultIntraOpThreads(instanceCount: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor((cores - 1) / instanceCount));
}

function defaultGroup(): ModelInstanceGroup {
  return { name: '', kind: 'KIND_AUTO', count: 0, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '', rate_limiter: undefined };
}
