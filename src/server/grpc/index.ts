export { GrpcFrontend, type GrpcFrontendOptions } from './grpc-frontend.js';
