import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { logControlOf, silentLogger, type Logger } from '../core/index.js';
import {
  CpuMetrics,
  DEFAULT_METRICS_CONFIG,
  DEFAULT_TRACE_SETTINGS,
  ModelStatistics,
  PrometheusMetrics,
  TraceManager,
  type MetricsConfig,
  type ObservedVersion,
  type TraceSettings,
} from '../metrics/index.js';
import { ModelRegistry, type ModelControlMode } from '../repository/index.js';
import { RateLimiter, ResponseCache, type RateLimitResource } from '../scheduler/index.js';
import { DataPlane } from './data-plane.js';
import { GrpcFrontend } from './grpc/index.js';
import { HttpFrontend } from './http/http-frontend.js';
import { configureGpuMemory, gpuMetricsOfMachine } from './gpu-resources.js';
import { MetricsEndpoint } from './metrics-endpoint.js';
import { loadGrpcTls, loadHttpsFiles, type GrpcTlsOptions, type HttpTlsOptions } from './tls-files.js';
import type { ApiRestrictions } from './restricted-apis.js';

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
  /** `--cache-config local,size=BYTES`: the response cache's size in bytes; absent, no cache. */
  responseCacheBytes?: number;
  /** `--exit-on-error`: fail start-up when any model fails to load. */
  exitOnError: boolean;
  /**
   * On stop, keep serving until no inference request has arrived for this long, so that
   * requests still routed here while a load balancer removes the endpoint get answers.
   */
  drainQuietMs: number;
  /** `--exit-timeout-secs`: stop() gives up waiting for in-flight requests after this. */
  exitTimeoutSecs: number;
  /** `--allow-client-shm`: clients may register, unregister and use shared-memory regions (Triton's default: false). */
  allowClientShm: boolean;
  /** `--allow-metrics`: serve Prometheus metrics (`GET /metrics`) on their own port. */
  allowMetrics: boolean;
  metricsAddress: string;
  metricsPort: number;
  /** `--metrics-interval-ms`: how often CPU and memory are sampled; counters are read at each scrape. */
  metricsIntervalMs: number;
  /** `--allow-cpu-metrics`: report nv_cpu_utilization and CPU memory. */
  allowCpuMetrics: boolean;
  /** `--allow-gpu-metrics`: report nv_gpu_* and nv_energy_consumption for each GPU NVML can read. */
  allowGpuMetrics: boolean;
  /** `--metrics-config`. */
  metricsConfig: MetricsConfig;
  /** `--pinned-memory-pool-byte-size`: pinned host memory for GPU staging buffers. */
  pinnedMemoryPoolBytes: number;
  /** `--cuda-memory-pool-byte-size <gpu>:<bytes>`: what each GPU's memory pool keeps; 64 MiB for GPUs not named. */
  cudaMemoryPoolBytes: Array<[number, number]>;
  /** The trace settings at start-up (`--trace-config`). */
  trace: TraceSettings;
  /** Made by createLogger() (or silentLogger()), its settings also change through the logging extension. */
  logger: Logger;
  /** `--grpc-use-ssl` / `--grpc-use-ssl-mutual` with their files; absent, gRPC is plain text. */
  grpcTls?: GrpcTlsOptions;
  /** `--http-ssl-cert`, `--http-ssl-key` (and `--http-ssl-ca`); absent, plain HTTP. */
  httpTls?: HttpTlsOptions;
  /** `--http-restricted-api`: HTTP endpoint categories that need a header (none by default). */
  httpRestrictedApis?: ApiRestrictions;
  /** `--grpc-restricted-protocol`: gRPC RPC categories that need a metadata header (none by default). */
  grpcRestrictedProtocols?: ApiRestrictions;
  /** `--http-header-forward-pattern`: request headers matching it become request parameters. */
  httpHeaderForwardPattern?: RegExp;
  /** `--grpc-header-forward-pattern`: request metadata matching it becomes request parameters. */
  grpcHeaderForwardPattern?: RegExp;
  /** `--rate-limit`: `execution_count` runs every execution through the rate limiter; `off` (default) does not. */
  rateLimit?: 'execution_count' | 'off';
  /** `--rate-limit-resource`: resource counts that replace the defaults (the most any instance asks for). */
  rateLimitResources?: RateLimitResource[];
}

export const DEFAULT_SERVER_OPTIONS: Omit<ServerOptions, 'modelRepositories'> = {
  allowHttp: true,
  httpAddress: '0.0.0.0',
  httpPort: 8000,
  httpMaxInputSize: 64 * 1024 * 1024,
  allowGrpc: true,
  grpcAddress: '0.0.0.0',
  grpcPort: 8001,
  // Triton's (INT32_MAX): Triton's clients send tensors of hundreds of MiB, e.g. 10 Mi BYTES elements of 70 MiB.
  grpcMaxMessageSize: 2_147_483_647,
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
  allowClientShm: false,
  allowMetrics: true,
  metricsAddress: '0.0.0.0',
  metricsPort: 8002,
  metricsIntervalMs: 2000,
  allowCpuMetrics: true,
  allowGpuMetrics: true,
  metricsConfig: DEFAULT_METRICS_CONFIG,
  // Triton's defaults: 256 MiB pinned.
  pinnedMemoryPoolBytes: 256 * 1024 * 1024,
  cudaMemoryPoolBytes: [],
  trace: DEFAULT_TRACE_SETTINGS,
  logger: silentLogger(),
};

export interface RunningServer {
  readonly registry: ModelRegistry;
  /** The bound HTTP port, or undefined when HTTP is off. */
  readonly httpPort: number | undefined;
  /** The bound gRPC port, or undefined when gRPC is off. */
  readonly grpcPort: number | undefined;
  /** The bound metrics port, or undefined when metrics are off. */
  readonly metricsPort: number | undefined;
  /**
   * Turns readiness off, serves until traffic stops (`drainQuietMs`), stops accepting,
   * answers everything in flight and unloads the models; rejects after `exitTimeoutSecs`.
   */
  stop(): Promise<void>;
}

export async function startServer(partial: Partial<ServerOptions> & Pick<ServerOptions, 'modelRepositories'>): Promise<RunningServer> {
  const options: ServerOptions = { ...DEFAULT_SERVER_OPTIONS, ...partial };
  const { logger } = options;
  // A wrong certificate or key stops start-up before any model loads.
  const https = options.allowHttp && options.httpTls ? loadHttpsFiles(options.httpTls) : undefined;
  const grpcTls = options.allowGrpc && options.grpcTls ? loadGrpcTls(options.grpcTls) : undefined;
  configureGpuMemory(options.pinnedMemoryPoolBytes, options.cudaMemoryPoolBytes);
  const cpu = options.allowMetrics && options.allowCpuMetrics ? new CpuMetrics() : undefined;
  const gpu = options.allowMetrics && options.allowGpuMetrics ? gpuMetricsOfMachine(logger) : undefined;
  // Counters are read from the registry's versions at each scrape: nothing is counted twice.
  const metrics: PrometheusMetrics | undefined = options.allowMetrics
    ? new PrometheusMetrics({ versions: () => loadedVersions(registry), config: options.metricsConfig, cpu, gpu, responseCache: options.responseCacheBytes !== undefined })
    : undefined;
  const registry: ModelRegistry = new ModelRegistry({
    repositories: options.modelRepositories,
    strictModelConfig: options.strictModelConfig,
    controlMode: options.modelControlMode,
    startupModels: options.loadModels,
    restartPolicy: { maxConsecutiveFailures: options.modelRestartLimit, backoffMs: options.modelRestartBackoffMs },
    responseCache: options.responseCacheBytes !== undefined ? new ResponseCache(options.responseCacheBytes) : undefined,
    rateLimiter: options.rateLimit === 'execution_count' ? new RateLimiter(options.rateLimitResources) : undefined,
    logger,
    createStatistics: metrics ? (model, version) => new ModelStatistics(metrics.latencyObserver(model, version)) : undefined,
  });
  await registry.loadAll();
  const failed = registry.loadFailures();
  if (options.exitOnError && failed.length > 0) {
    await registry.unloadAll();
    const reasons = failed.map((e) => `${e.name}${e.version ? ` version ${e.version}` : ''}: ${e.reason}`).join('\n  ');
    throw new Error(`failed to load ${failed.length} model(s) (--exit-on-error=true):\n  ${reasons}`);
  }

  const tracing = new TraceManager(options.trace, logger);
  const dataPlane = new DataPlane(registry, {
    version: packageJson.version,
    strictReadiness: options.strictReadiness,
    tracing,
    logControl: logControlOf(logger),
    allowClientShm: options.allowClientShm,
  });
  let http: HttpFrontend | undefined;
  let httpPort: number | undefined;
  if (options.allowHttp) {
    http = new HttpFrontend(dataPlane, {
      address: options.httpAddress,
      port: options.httpPort,
      maxInputSize: options.httpMaxInputSize,
      https,
      logger,
      restrictedApis: options.httpRestrictedApis,
      headerForwardPattern: options.httpHeaderForwardPattern,
    });
    try {
      httpPort = await http.listen();
    } catch (err) {
      await registry.unloadAll();
      throw err;
    }
    logger.info({ address: options.httpAddress, port: httpPort, tls: https ? (https.clientCertificateAuthorities ? 'mutual' : 'server') : 'off' }, 'HTTP service started');
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
      tls: grpcTls,
      logger,
      restrictedProtocols: options.grpcRestrictedProtocols,
      headerForwardPattern: options.grpcHeaderForwardPattern,
    });
    try {
      grpcPort = await grpcFrontend.listen();
    } catch (err) {
      // Leave nothing behind: the caller gets the error and no server to stop.
      await http?.close();
      await registry.unloadAll();
      throw err;
    }
    logger.info({ address: options.grpcAddress, port: grpcPort, tls: grpcTls ? (grpcTls.mutual ? 'mutual' : 'server') : 'off' }, 'GRPC service started');
  }
  let metricsEndpoint: MetricsEndpoint | undefined;
  let metricsPort: number | undefined;
  if (metrics) {
    metricsEndpoint = new MetricsEndpoint(metrics, { address: options.metricsAddress, port: options.metricsPort, logger });
    try {
      metricsPort = await metricsEndpoint.listen();
    } catch (err) {
      await Promise.all([http?.close(), grpcFrontend?.close()]);
      await registry.unloadAll();
      throw err;
    }
    cpu?.start(options.metricsIntervalMs);
    gpu?.start(options.metricsIntervalMs);
    logger.info({ address: options.metricsAddress, port: metricsPort }, 'metrics service started');
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
      .then(() => dataPlane.sharedMemory.releaseAll());
    const timedOut = await Promise.race([drained.then(() => false), sleep(Math.max(0, deadline - performance.now()), undefined, { ref: false }).then(() => true)]);
    // Metrics stay scrapeable while requests drain; traces collected so far are written either way.
    cpu?.stop();
    gpu?.stop();
    await Promise.all([metricsEndpoint?.close(), tracing.close()]);
    if (timedOut) throw new Error(`requests still in flight after --exit-timeout-secs=${options.exitTimeoutSecs}`);
    logger.info('server stopped');
  };

  let stopping: Promise<void> | undefined;
  return {
    registry,
    httpPort,
    grpcPort,
    metricsPort,
    stop() {
      stopping ??= shutDown();
      return stopping;
    },
  };
}

/** The versions metrics report on: loaded ones, including one draining while it unloads. */
function* loadedVersions(registry: ModelRegistry): Iterable<ObservedVersion> {
  for (const version of registry.allVersions()) {
    if (version.state !== 'READY' && version.state !== 'UNLOADING') continue;
    let queuedCount = 0;
    try {
      queuedCount = version.requestScheduler.queuedCount;
    } catch {
      // Its scheduler is already gone: nothing is queued.
    }
    yield { modelName: version.modelName, version: version.version, statistics: version.statistics, queuedCount };
  }
}
