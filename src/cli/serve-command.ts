import { DEFAULT_SERVER_OPTIONS, startServer, type ServerOptions } from '../server/index.js';
import { formatHelp, parseFlags, UsageError, type FlagSpec } from './flag-parser.js';
import { OBSERVABILITY_FLAGS, observabilityOptions } from './observability-flags.js';
import { GPU_FLAGS, gpuOptions } from './gpu-flags.js';

/**
 * After SIGTERM, keep serving until a second passes without an inference request:
 * long enough for a Kubernetes endpoint removal to reach the load balancers.
 */
const CLI_DRAIN_QUIET_MS = 1000;

/** Triton's flag names and meanings. */
export const SERVE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'model-repository': { kind: 'list', help: 'Path to a model repository; repeat for several.' },
  'allow-http': { kind: 'bool', help: 'Serve the HTTP/REST endpoint.', defaultText: 'true' },
  'http-address': { kind: 'string', help: 'Address the HTTP endpoint binds to.', defaultText: '0.0.0.0' },
  'http-port': { kind: 'int', help: 'Port of the HTTP endpoint (0 picks a free port).', defaultText: '8000' },
  'http-max-input-size': { kind: 'int', help: 'Largest HTTP request body accepted, in bytes.', defaultText: String(64 * 1024 * 1024) },
  'allow-grpc': { kind: 'bool', help: 'Serve the gRPC endpoint (inference.GRPCInferenceService).', defaultText: 'true' },
  'grpc-address': { kind: 'string', help: 'Address the gRPC endpoint binds to.', defaultText: '0.0.0.0' },
  'grpc-port': { kind: 'int', help: 'Port of the gRPC endpoint (0 picks a free port).', defaultText: '8001' },
  'grpc-max-message-size': { kind: 'int', help: 'Largest gRPC message received or sent, in bytes.', defaultText: String(DEFAULT_SERVER_OPTIONS.grpcMaxMessageSize) },
  'grpc-keepalive-time': { kind: 'int', help: 'Milliseconds between keepalive pings on an idle gRPC connection.', defaultText: String(DEFAULT_SERVER_OPTIONS.grpcKeepaliveTimeMs) },
  'grpc-keepalive-timeout': { kind: 'int', help: 'Milliseconds to wait for a keepalive ping to be answered before closing the connection.', defaultText: String(DEFAULT_SERVER_OPTIONS.grpcKeepaliveTimeoutMs) },
  'strict-model-config': { kind: 'bool', help: 'Require a complete config.pbtxt; when false, fill missing parts from the model file.', defaultText: 'false' },
  'model-control-mode': { kind: 'string', help: 'none: load everything once; poll: follow repository changes; explicit: load and unload on request.', defaultText: 'none' },
  'load-model': { kind: 'list', help: "In explicit mode, a model to load at start-up; repeat for several, '*' for all." },
  'repository-poll-secs': { kind: 'int', help: 'In poll mode, seconds between repository scans.', defaultText: '15' },
  'model-restart-limit': { kind: 'int', help: 'Instance failures in a row (crashes, failed restarts) before a model version is UNAVAILABLE.', defaultText: '5' },
  'model-restart-backoff-ms': { kind: 'int', help: 'Delay before restarting a dead instance; doubles with each failure in a row.', defaultText: '100' },
  'allow-client-shm': { kind: 'bool', help: 'Let clients register, unregister and use system (and CUDA) shared-memory regions.', defaultText: 'false' },
  'exit-timeout-secs': { kind: 'int', help: 'On SIGTERM, the longest wait for requests in flight before exiting.', defaultText: '30' },
  'strict-readiness': { kind: 'bool', help: 'Report the server ready only when every model is ready.', defaultText: 'true' },
  'exit-on-error': { kind: 'bool', help: 'Exit at start-up when any model fails to load.', defaultText: 'true' },
  'cache-config': { kind: 'list', help: "Response cache settings as Triton takes them, '<cache>,<key>=<value>': only the 'local' cache, with its 'size' in bytes (e.g. local,size=1048576); repeat for several keys." },
  'log-verbose': { kind: 'int', help: 'Verbose logging level; above 0 logs debug detail.', defaultText: '0' },
  ...OBSERVABILITY_FLAGS,
  ...GPU_FLAGS,
  help: { kind: 'bool', help: 'Print this help.' },
};

export const SERVE_USAGE = `Usage: nereid [serve] --model-repository <path> [flags]\n\nFlags:\n${formatHelp(SERVE_FLAGS)}`;

export function serveOptionsFromArgs(args: readonly string[]): (ServerOptions & { help: false }) | { help: true } {
  const flags = parseFlags(args, SERVE_FLAGS);
  if (flags.help) return { help: true };
  const repositories = (flags['model-repository'] as string[] | undefined) ?? [];
  if (repositories.length === 0) throw new UsageError('--model-repository is required');
  const port = (flags['http-port'] as number | undefined) ?? DEFAULT_SERVER_OPTIONS.httpPort;
  if (port < 0 || port > 65535) throw new UsageError(`--http-port must be between 0 and 65535, got ${port}`);
  const maxInput = (flags['http-max-input-size'] as number | undefined) ?? DEFAULT_SERVER_OPTIONS.httpMaxInputSize;
  if (maxInput <= 0) throw new UsageError(`--http-max-input-size must be positive, got ${maxInput}`);
  const grpcPort = (flags['grpc-port'] as number | undefined) ?? DEFAULT_SERVER_OPTIONS.grpcPort;
  if (grpcPort < 0 || grpcPort > 65535) throw new UsageError(`--grpc-port must be between 0 and 65535, got ${grpcPort}`);
  const positive = (name: string, fallback: number): number => {
    const value = (flags[name] as number | undefined) ?? fallback;
    if (value <= 0) throw new UsageError(`--${name} must be positive, got ${value}`);
    return value;
  };
  const controlMode = (flags['model-control-mode'] as string | undefined) ?? DEFAULT_SERVER_OPTIONS.modelControlMode;
  if (controlMode !== 'none' && controlMode !== 'poll' && controlMode !== 'explicit') {
    throw new UsageError(`--model-control-mode must be none, poll or explicit, got '${controlMode}'`);
  }
  const loadModels = (flags['load-model'] as string[] | undefined) ?? [];
  if (loadModels.length > 0 && controlMode !== 'explicit') throw new UsageError('--load-model needs --model-control-mode=explicit');
  return {
    help: false,
    modelRepositories: repositories,
    allowHttp: (flags['allow-http'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.allowHttp,
    httpAddress: (flags['http-address'] as string | undefined) ?? DEFAULT_SERVER_OPTIONS.httpAddress,
    httpPort: port,
    httpMaxInputSize: maxInput,
    allowGrpc: (flags['allow-grpc'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.allowGrpc,
    grpcAddress: (flags['grpc-address'] as string | undefined) ?? DEFAULT_SERVER_OPTIONS.grpcAddress,
    grpcPort,
    grpcMaxMessageSize: positive('grpc-max-message-size', DEFAULT_SERVER_OPTIONS.grpcMaxMessageSize),
    grpcKeepaliveTimeMs: positive('grpc-keepalive-time', DEFAULT_SERVER_OPTIONS.grpcKeepaliveTimeMs),
    grpcKeepaliveTimeoutMs: positive('grpc-keepalive-timeout', DEFAULT_SERVER_OPTIONS.grpcKeepaliveTimeoutMs),
    strictModelConfig: (flags['strict-model-config'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.strictModelConfig,
    modelControlMode: controlMode,
    loadModels,
    repositoryPollSecs: positive('repository-poll-secs', DEFAULT_SERVER_OPTIONS.repositoryPollSecs),
    exitTimeoutSecs: positive('exit-timeout-secs', DEFAULT_SERVER_OPTIONS.exitTimeoutSecs),
    allowClientShm: (flags['allow-client-shm'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.allowClientShm,
    modelRestartLimit: positive('model-restart-limit', DEFAULT_SERVER_OPTIONS.modelRestartLimit),
    modelRestartBackoffMs: positive('model-restart-backoff-ms', DEFAULT_SERVER_OPTIONS.modelRestartBackoffMs),
    drainQuietMs: CLI_DRAIN_QUIET_MS,
    strictReadiness: (flags['strict-readiness'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.strictReadiness,
    responseCacheBytes: responseCacheBytes((flags['cache-config'] as string[] | undefined) ?? []),
    exitOnError: (flags['exit-on-error'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.exitOnError,
    ...observabilityOptions(flags, (flags['http-address'] as string | undefined) ?? DEFAULT_SERVER_OPTIONS.httpAddress),
    ...gpuOptions(flags),
  };
}

/** `--cache-config local,size=BYTES` (repeatable, one or more key=value each): the local cache's size, or undefined without the flag. */
export function responseCacheBytes(values: readonly string[]): number | undefined {
  let size: number | undefined;
  for (const value of values) {
    const comma = value.indexOf(',');
    const cache = comma === -1 ? value : value.slice(0, comma);
    if (cache !== 'local') throw new UsageError(`--cache-config: unsupported cache '${cache}' in '${value}': Nereid has only the 'local' cache`);
    if (comma === -1) throw new UsageError(`--cache-config must be '<cache>,<key>=<value>', got '${value}'`);
    for (const setting of value.slice(comma + 1).split(',')) {
      const [key, text, ...rest] = setting.split('=');
      if (text === undefined || rest.length > 0) throw new UsageError(`--cache-config: setting '${setting}' in '${value}' must be '<key>=<value>'`);
      if (key !== 'size') throw new UsageError(`--cache-config: unknown key '${key}' for the local cache in '${value}': it takes 'size'`);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new UsageError(`--cache-config: size must be a whole number of bytes, got '${text}'`);
      size = Number(text);
    }
  }
  if (values.length > 0 && size === undefined) throw new UsageError("--cache-config local needs size=<bytes>");
  return size;
}

/** Runs the server until SIGINT or SIGTERM, then drains and exits 0. */
export async function serve(args: readonly string[]): Promise<number> {
  const parsed = serveOptionsFromArgs(args);
  if (parsed.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  const { logger } = parsed;
  let server;
  try {
    server = await startServer(parsed);
  } catch (err) {
    logger.error((err as Error).message);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, 'shutting down: finishing requests in flight');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  try {
    await server.stop();
  } catch (err) {
    logger.error((err as Error).message);
    return 1;
  }
  return 0;
}
