/**
 * Device memory that a client allocated and exported with cudaIpcGetMemHandle, opened by
 * that 64-byte handle (Triton's CUDA shared memory). The registry sees only this
 * interface, so that its bookkeeping and copies are the same whatever memory is behind it.
 */
import { cudaAddon } from '../../backends/index.js';
import type { DeviceSpan } from '../../core/index.js';

/** Bytes of a cudaIpcMemHandle_t (CUDA_IPC_HANDLE_SIZE). */
export const CUDA_IPC_HANDLE_BYTES = 64;

/** One opened region; reads and writes copy between it and host memory, bounds-checked. */
export interface DeviceMemory {
  read(offset: number, target: Uint8Array): void;
  write(offset: number, source: Uint8Array): void;
  /**
   * `byteSize` bytes at `offset` as the device sees them, for a model on this device to
   * read and write in place (the cuda backend's device path); bounds-checked. Memory
   * without it is only ever copied.
   */
  span?(offset: number, byteSize: number): DeviceSpan;
  close(): void;
}

/** What opening or using device memory throws: an Error whose `code` says why. */
export interface DeviceMemoryError extends Error {
  code:
    | 'ERR_NO_ADDON'
    | 'ERR_INVALID_ARG'
    | 'ERR_NO_RUNTIME'
    | 'ERR_NO_DEVICE'
    | 'ERR_DEVICE_RANGE'
    | 'ERR_IPC_OPEN'
    | 'ERR_OUT_OF_RANGE'
    | 'ERR_COPY'
    | 'ERR_CLOSED';
}

export interface DeviceMemoryOpener {
  /** Opens `byteSize` bytes of the allocation `handle` exports, on CUDA device `deviceId`; throws a DeviceMemoryError. */
  open(handle: Uint8Array, deviceId: number, byteSize: number): DeviceMemory;
}

/** The real one: cudaIpcOpenMemHandle through the CUDA addon (native/cuda/src/cuda-shared-memory.cc). */
export const cudaIpcMemory: DeviceMemoryOpener = {
  open(handle, deviceId, byteSize) {
    const { addon, error } = cudaAddon();
    if (!addon) throw Object.assign(new Error(error), { code: 'ERR_NO_ADDON' });
    const memory = new addon.CudaSharedMemory(handle, deviceId, byteSize);
    return {
      read: (offset, target) => memory.read(offset, target),
      write: (offset, source) => memory.write(offset, source),
      span: (offset, bytes) => ({ deviceId, pointer: memory.pointer(offset, bytes), byteSize: bytes }),
      close: () => memory.close(),
    };
  },
};
