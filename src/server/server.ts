import { createRequire } from 'node:module';
import { silentLogger, type Logger } from '../core/index.js';
import { ModelRegistry } from '../repository/index.js';
import { DataPlane } from './data-plane.js';
import { GrpcFrontend } from './grpc/index.js';
import { HttpFrontend } from './http/http-frontend.js';

const packageJson = createRequire(import.meta.url)('../../package.json') as { version: string };

export interface ServerOptions {
  modelRepositories: string[];
  allowHttp: boolean;
  httpAddress: string;
  httpPort: number;
  httpMaxInputSize: number;
  allowGrpc: boolean;
  grpcAddress: string;
  grpcPort: number;
  /** The largest gRPC message received or sent, in bytes. */
  grpcMaxMessageSize: number;
  /** Milliseconds between keepalive pings on an idle gRPC connection. */
  grpcKeepaliveTimeMs: number;
  /** Milliseconds to wait for a keepalive ping's answer before closing the connection. */
  grpcKeepaliveTimeoutMs: number;
  strictModelConfig: boolean;
  strictReadiness: boolean;
  /** `--exit-on-error`: fail start-up when any model fails to load. */
  exitOnError: boolean;
  logger: Logger;
}

export const DEFAULT_SERVER_OPTIONS: Omit<ServerOptions, 'modelRepositories'> = {
  allowHttp: true,
  httpAddress: '0.0.0.0',
  httpPort: 8000,
  httpMaxInputSize: 64 * 1024 * 1024,
  allowGrpc: true,
  grpcAddress: '0.0.0.0',
  grpcPort: 8001,
  // A 64 MiB tensor and the rest of its message.
  grpcMaxMessageSize: 65 * 1024 * 1024,
  // Triton's defaults.
  grpcKeepaliveTimeMs: 7_200_000,
  grpcKeepaliveTimeoutMs: 20_000,
  strictModelConfig: false,
  strictReadiness: true,
  exitOnError: true,
  logger: silentLogger(),
};

export interface RunningServer {
  readonly registry: ModelRegistry;
  /** The bound HTTP port, or undefined when HTTP is off. */
  readonly httpPort: number | undefined;
  /** The bound gRPC port, or undefined when gRPC is off. */
  readonly grpcPort: number | undefined;
  /** Stops accepting, answers everything in flight, unloads the models. */
  stop(): Promise<void>;
}

export async function startServer(partial: Partial<ServerOptions> & Pick<ServerOptions, 'modelRepositories'>): Promise<RunningServer> {
  const options: ServerOptions = { ...DEFAULT_SERVER_OPTIONS, ...partial };
  const { logger } = options;
  const registry = new ModelRegistry({
    repositories: options.modelRepositories,
    strictModelConfig: options.strictModelConfig,
    logger,
  });
  await registry.loadAll();
  const failed = registry.index().filter((entry) => entry.state !== 'READY');
  if (options.exitOnError && failed.length > 0) {
    await registry.unloadAll();
    const reasons = failed.map((e) => `${e.name}${e.version ? ` version ${e.version}` : ''}: ${e.reason}`).join('\n  ');
    throw new Error(`failed to load ${failed.length} model(s) (--exit-on-error=true):\n  ${reasons}`);
  }

  const dataPlane = new DataPlane(registry, { version: packageJson.version, strictReadiness: options.strictReadiness });
  let http: HttpFrontend | undefined;
  let httpPort: number | undefined;
  if (options.allowHttp) {
    http = new HttpFrontend(dataPlane, {
      address: options.httpAddress,
      port: options.httpPort,
      maxInputSize: options.httpMaxInputSize,
      logger,
    });
    httpPort = await http.listen();
    logger.info({ address: options.httpAddress, port: httpPort }, 'HTTP service started');
  }
  let grpcFrontend: GrpcFrontend | undefined;
  let grpcPort: number | undefined;
  if (options.allowGrpc) {
    grpcFrontend = new GrpcFrontend(dataPlane, {
      address: options.grpcAddress,
      port: options.grpcPort,
      maxMessageSize: options.grpcMaxMessageSize,
      keepaliveTimeMs: options.grpcKeepaliveTimeMs,
      keepaliveTimeoutMs: options.grpcKeepaliveTimeoutMs,
      logger,
    });
    try {
      grpcPort = await grpcFrontend.listen();
    } catch (err) {
      // Leave nothing behind: the caller gets the error and no server to stop.
      await http?.close();
      await registry.unloadAll();
      throw err;
    }
    logger.info({ address: options.grpcAddress, port: grpcPort }, 'GRPC service started');
  }

  let stopping: Promise<void> | undefined;
  return {
    registry,
    httpPort,
    grpcPort,
    stop() {
      stopping ??= (async () => {
        dataPlane.accepting = false;
        await Promise.all([http?.close(), grpcFrontend?.close()]);
        await registry.unloadAll();
        logger.info('server stopped');
      })();
      return stopping;
    },
  };
}
