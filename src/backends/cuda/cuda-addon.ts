/**
 * Nereid's CUDA addon (native/cuda, built by `npm ci` as nereid_cuda.node). It loads on
 * every machine: the CUDA runtime, cuBLASLt and NVML are opened at run time, so on a
 * machine without a GPU it reports no device and the reason.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { DenseRunner } from './dense-runner.js';

export interface CudaDevice {
  index: number;
  name: string;
  /** `GPU-xxxxxxxx-xxxx-…`, the gpu_uuid label of the GPU metrics. */
  uuid: string;
  pciBusId: string;
  totalMemoryBytes: number;
  /** "9.0" */
  computeCapability: string;
  multiProcessorCount: number;
}

export interface CudaProbe {
  devices: CudaDevice[];
  /** Why there is no device; absent when there are devices. */
  reason?: string;
  runtimeVersion: number;
  driverVersion: number;
}

export interface LibraryStatus {
  loaded: boolean;
  path?: string;
  error?: string;
}

export interface CudaLibraries {
  driver: LibraryStatus;
  runtime: LibraryStatus;
  cublasLt: LibraryStatus;
  nvml: LibraryStatus;
  kernels: { path: string; built: boolean };
}

/** One GPU's NVML readings, as the addon returns them and the nv_gpu_* metrics report them. */
export interface NvmlReading {
  /** Set when this sample could not be read; the metrics keep the last good values. */
  error?: string;
  utilization: number;
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  powerUsageWatts: number;
  powerLimitWatts: number;
  /** Since the driver loaded. */
  energyJoules: number;
}

/** A dense-layer plan (dense-graph.ts) on one device: run() from host memory, runDevice() on the direct device path. */
export type NativeDenseModel = DenseRunner;

/** A client's CUDA shared memory region (cudaIpcOpenMemHandle), copied to and from host memory. */
export interface NativeCudaSharedMemory {
  read(offset: number, target: Uint8Array): void;
  write(offset: number, source: Uint8Array): void;
  /** The device address `offset` bytes in, checked that `byteSize` bytes from there lie in the region. */
  pointer(offset: number, byteSize: number): bigint;
  close(): void;
}

export interface CudaAddon {
  probe(): CudaProbe;
  libraries(): CudaLibraries;
  readNvml(uuid: string): NvmlReading;
  configureMemory(settings: { pinnedPoolBytes: number; devicePoolBytes: [number, number][] }): void;
  DenseModel: new (plan: object, device: number) => NativeDenseModel;
  /** Throws an Error with a `code` (ERR_NO_DEVICE, ERR_DEVICE_RANGE, ERR_IPC_OPEN, …) when the region cannot be opened. */
  CudaSharedMemory: new (handle: Uint8Array, device: number, byteSize: number) => NativeCudaSharedMemory;
}

// Three levels below the package root both as src/backends/cuda/*.ts and as dist/backends/cuda/*.js.
export const CUDA_ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/nereid_cuda.node', import.meta.url));

let loaded: { addon?: CudaAddon; error?: string } | undefined;

/** The addon, or why it could not be loaded (not built: `npm ci` or `node native/build.js`). */
export function cudaAddon(): { addon?: CudaAddon; error?: string } {
  if (!loaded) {
    try {
      loaded = { addon: createRequire(import.meta.url)(CUDA_ADDON_PATH) as CudaAddon };
    } catch (err) {
      loaded = { error: `Nereid's CUDA addon could not be loaded from ${CUDA_ADDON_PATH} (build it with 'npm ci' or 'node native/build.js'): ${(err as Error).message}` };
    }
  }
  return loaded;
}

/** The CUDA devices of this machine, or none and why. */
export function cudaProbe(): CudaProbe {
  const { addon, error } = cudaAddon();
  if (!addon) return { devices: [], reason: error, runtimeVersion: 0, driverVersion: 0 };
  return addon.probe();
}
