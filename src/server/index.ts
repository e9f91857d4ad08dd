export { startServer, DEFAULT_SERVER_OPTIONS, type RunningServer, type ServerOptions } from './server.js';
export { DataPlane, EXTENSIONS } from './data-plane.js';
