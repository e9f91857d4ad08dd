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
export function normalizeInstanceGroups(config: ModelConfig, backend: string, gpus: readonly number[], noGpuReason?: string): ModelInstanceGroup[] {
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
        const reason = noGpuReason ? `: ${noGpuReason}` : '';
        throw new Error(`${where} asks for KIND_GPU but no GPU is available to the ${backend} backend of this server${reason} (use KIND_CPU, or KIND_AUTO to fall back to the CPU)`);
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

/** One instance to start: its name and, for KIND_GPU, its device. */
export interface InstancePlacement {
  name: string;
  gpu?: number;
}

/**
 * Triton starts `count` instances of a KIND_GPU group on each of its GPUs, and names
 * instance k of a group `<group>_<k>`.
 */
export function instancePlacements(groups: readonly ModelInstanceGroup[]): InstancePlacement[] {
  return groups.flatMap((group) => {
    const devices = group.kind === 'KIND_GPU' ? group.gpus : [undefined];
    return devices.flatMap((gpu, d) =>
      Array.from({ length: group.count }, (_, k) => ({ name: `${group.name}_${d * group.count + k}`, ...(gpu === undefined ? {} : { gpu }) })),
    );
  });
}

export function instanceNames(groups: readonly ModelInstanceGroup[]): string[] {
  return instancePlacements(groups).map((p) => p.name);
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
