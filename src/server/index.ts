export { startServer, DEFAULT_SERVER_OPTIONS, type RunningServer, type ServerOptions } from './server.js';
export { DataPlane, EXTENSIONS } from './data-plane.js';
export {
  RESTRICTED_CATEGORIES,
  GRPC_RESTRICTED_HEADER_PREFIX,
  parseApiRestrictions,
  type ApiRestrictions,
  type RestrictedCategory,
} from './restricted-apis.js';
export { compileHeaderForwardPattern } from './header-forwarding.js';
export { CUDA_IPC_HANDLE_BYTES, type DeviceMemory, type DeviceMemoryOpener } from './shared-memory/index.js';
