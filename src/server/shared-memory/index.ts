export { SharedMemoryManager, SharedMemoryOutput, type SharedMemoryRegionStatus } from './shared-memory-manager.js';
export { sharedMemoryReference, type SharedMemoryReference } from './shared-memory-reference.js';
