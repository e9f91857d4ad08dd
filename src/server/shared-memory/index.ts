export {
  SharedMemoryManager,
  SharedMemoryOutput,
  type CudaSharedMemoryRegionStatus,
  type SharedMemoryOptions,
  type SharedMemoryRegionStatus,
} from './shared-memory-manager.js';
export { CUDA_IPC_HANDLE_BYTES, type DeviceMemory, type DeviceMemoryOpener } from './cuda-device-memory.js';
export { sharedMemoryReference, type SharedMemoryReference } from './shared-memory-reference.js';
export { routeDeviceTensors, takesDeviceTensors } from './device-path.js';
