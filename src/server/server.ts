import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type Logger } from '../core/index.js';
import { ModelRegistry, type ModelControlMode } from '../repository/index.js';
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
  modelControlMode: ModelControlMode;
  /** `--load-model` (explicit mode): the models loaded at start-up; `*` for all. */
  loadModels: string[];
  repositoryPollSecs: number;
  /** `--model-restart-limit`: instance failures in a row before a version is UNAVAILABLE. */
  modelRestartLimit: number;
  /** `--model-restart-backoff-ms`: the first restart's delay, doubled for each further failure. */
  modelRestartBackoffMs: number;
  strictReadiness: boolean;
  /** `--exit-on-error`: fail start-up when any model fails to load. */
  exitOnError: boolean;
  /**
   * On stop, keep serving until no inference request has arrived for this long, so that
   * requests still routed here while a load balancer removes the endpoint get answers.
   */
  drainQuietMs: number;
  /** `--exit-timeout-secs`: stop() gives up waiting for in-flight requests after this. */
  exitTimeoutSecs: number;
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
  modelControlMode: 'none',
  loadModels: [],
  repositoryPollSecs: 15,
  modelRestartLimit: 5,
  modelRestartBackoffMs: 100,
  strictReadiness: true,
  exitOnError: true,
  drainQuietMs: 0,
  exitTimeoutSecs: 30,
  logger: silentLogger(),
};

export interface RunningServer {
  readonly registry: ModelRegistry;
  /** The bound HTTP port, or undefined when HTTP is off. */
  readonly httpPort: number | undefined;
  /** The bound gRPC port, or undefined when gRPC is off. */
  readonly grpcPort: number | undefined;
  /**
   * Turns readiness off, serves until traffic stops (`drainQuietMs`), stops accepting,
   * answers everything in flight and unloads the models; rejects after `exitTimeoutSecs`.
   */
  stop(): Promise<void>;
}

export async function startServer(partial: Partial<ServerOptions> & Pick<ServerOptions, 'modelRepositories'>): Promise<RunningServer> {
  const options: ServerOptions = { ...DEFAULT_SERVER_OPTIONS, ...partial };
  const { logger } = options;
  const registry = new ModelRegistry({
    repositories: options.modelRepositories,
    strictModelConfig: options.strictModelConfig,
    controlMode: options.modelControlMode,
    startupModels: options.loadModels,
    restartPolicy: { maxConsecutiveFailures: options.modelRestartLimit, backoffMs: options.modelRestartBackoffMs },
    logger,
  });
  await registry.loadAll();
  const failed = registry.loadFailures();
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

  if (options.modelControlMode === 'poll') registry.startPolling(options.repositoryPollSecs * 1000);

  /** Readiness fails at once; the endpoints keep serving until traffic stops, then close and drain. */
  const shutDown = async () => {
    dataPlane.accepting = false;
    const deadline = performance.now() + options.exitTimeoutSecs * 1000;
    while (performance.now() < deadline && performance.now() - dataPlane.lastInferenceAt < options.drainQuietMs) {
      await sleep(Math.min(50, options.drainQuietMs));
    }
    const drained = Promise.all([http?.close(), grpcFrontend?.close()])
      .then(() => registry.unloadAll())
      .then(() => dataPlane.sharedMemory.unregisterAll());
    const timedOut = await Promise.race([drained.then(() => false), sleep(Math.max(0, deadline - performance.now()), undefined, { ref: false }).then(() => true)]);
    if (timedOut) throw new Error(`requests still in flight after --exit-timeout-secs=${options.exitTimeoutSecs}`);
    logger.info('server stopped');
  };

  let stopping: Promise<void> | undefined;
  return {
    registry,
    httpPort,
    grpcPort,
    stop() {
      stopping ??= shutDown();
      return stopping;
    },
  };
}
