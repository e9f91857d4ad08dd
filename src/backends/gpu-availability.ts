import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { cudaAddon, cudaProbe } from './cuda/cuda-addon.js';
import { fakeCudaDeviceCount } from './cuda/fake-device.js';

/** The GPUs a backend can place instances on, or none and why. */
export interface GpuAvailability {
  gpus: number[];
  /** Why `gpus` is empty; absent when there are GPUs. */
  reason?: string;
}

/** onnxruntime-node keeps its native libraries in bin/napi-v6/<platform>/<arch>/ of its package. */
function onnxruntimeBinaryDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  let dir = dirname(entry);
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Whether onnxruntime-node's CUDA execution provider is installed. The npm package leaves
 * it out (it is too large for the registry); its install script fetches it from NuGet when
 * asked to, which this repository's .npmrc turns off so that `npm ci` needs no download.
 */
export function onnxruntimeCudaProvider(): { installed: boolean; reason?: string } {
  const library = join(onnxruntimeBinaryDir(), 'libonnxruntime_providers_cuda.so');
  if (existsSync(library)) return { installed: true };
  return {
    installed: false,
    reason:
      `onnxruntime-node's CUDA execution provider is not installed (${library} does not exist); ` +
      `install it with 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node' on a machine that can download from api.nuget.org ` +
      `(the provider needs CUDA 12 and cuDNN 9 at run time)`,
  };
}

function devices(): GpuAvailability {
  const probe = cudaProbe();
  if (probe.devices.length === 0) return { gpus: [], reason: `no CUDA device: ${probe.reason}` };
  return { gpus: probe.devices.map((d) => d.index) };
}

/** Per backend: onnxruntime needs its CUDA provider and a device; cuda needs a device, its kernels and cuBLASLt. */
export function gpuAvailability(backend: string): GpuAvailability {
  if (backend === 'onnxruntime') {
    const provider = onnxruntimeCudaProvider();
    const found = devices();
    if (!provider.installed) return { gpus: [], reason: found.reason ? `${provider.reason}; and ${found.reason}` : provider.reason };
    return found;
  }
  if (backend === 'cuda') {
    const fakes = fakeCudaDeviceCount();
    if (fakes > 0) return { gpus: Array.from({ length: fakes }, (_, k) => k) };
    const found = devices();
    if (found.reason) return found;
    const libraries = cudaAddon().addon!.libraries();
    if (!libraries.kernels.built) {
      return { gpus: [], reason: `the CUDA kernels were not built (${libraries.kernels.path} does not exist): rebuild with nvcc on the PATH, e.g. 'node native/build.js'` };
    }
    if (!libraries.cublasLt.loaded) return { gpus: [], reason: libraries.cublasLt.error };
    return found;
  }
  return { gpus: [], reason: `the ${backend} backend runs on the CPU only` };
}
