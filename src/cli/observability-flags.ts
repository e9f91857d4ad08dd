/** `nereid serve`'s metrics, logging and tracing flags, with Triton's names. */
import { LOG_FORMATS, LogControl, type LogFormat, type Logger } from '../core/index.js';
import { DEFAULT_TRACE_SETTINGS, parseMetricsConfig, traceSettingsFromConfig, type TraceSettings } from '../metrics/index.js';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../server/index.js';
import { UsageError, type FlagSpec, type FlagValues } from './flag-parser.js';

export const OBSERVABILITY_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'allow-metrics': { kind: 'bool', help: 'Serve Prometheus metrics at GET /metrics on the metrics port.', defaultText: 'true' },
  'allow-cpu-metrics': { kind: 'bool', help: 'Report CPU utilization and memory (nv_cpu_*).', defaultText: 'true' },
  'allow-gpu-metrics': { kind: 'bool', help: 'Report GPU utilization, memory, power and energy (nv_gpu_*, nv_energy_consumption) of each GPU NVML can read.', defaultText: 'true' },
  'metrics-address': { kind: 'string', help: 'Address the metrics endpoint binds to.', defaultText: 'the --http-address' },
  'metrics-port': { kind: 'int', help: 'Port of the metrics endpoint (0 picks a free port).', defaultText: '8002' },
  'metrics-interval-ms': { kind: 'int', help: 'Milliseconds between CPU and memory samples; counters are read at each scrape.', defaultText: '2000' },
  'metrics-config': { kind: 'list', help: 'A metrics setting: counter_latencies, summary_latencies, summary_quantiles or histogram_latencies=<value>; repeat for several.' },
  'log-info': { kind: 'bool', help: 'Log information messages.', defaultText: 'true' },
  'log-warning': { kind: 'bool', help: 'Log warnings.', defaultText: 'true' },
  'log-error': { kind: 'bool', help: 'Log errors.', defaultText: 'true' },
  'log-format': { kind: 'string', help: "Log line format: json (structured), or Triton's default or ISO8601.", defaultText: 'json' },
  'log-file': { kind: 'string', help: 'Append log lines to this file instead of standard output.' },
  'trace-config': { kind: 'list', help: 'A trace setting: level=OFF|TIMESTAMPS, rate=N, count=N, mode=triton, triton,file=PATH, triton,log-frequency=N; repeat for several.' },
  'trace-file': { kind: 'string', help: 'Deprecated form of --trace-config triton,file=PATH.' },
  'trace-level': { kind: 'list', help: 'Deprecated form of --trace-config level=LEVEL.' },
  'trace-rate': { kind: 'int', help: 'Deprecated form of --trace-config rate=N.' },
  'trace-count': { kind: 'int', help: 'Deprecated form of --trace-config count=N.' },
  'trace-log-frequency': { kind: 'int', help: 'Deprecated form of --trace-config triton,log-frequency=N.' },
};

type ObservabilityOptions = Pick<
  ServerOptions,
  'allowMetrics' | 'allowCpuMetrics' | 'allowGpuMetrics' | 'metricsAddress' | 'metricsPort' | 'metricsIntervalMs' | 'metricsConfig' | 'trace' | 'logger'
>;

/** Errors of the settings parsers become usage errors (exit 2 with the reason). */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function traceSettings(flags: FlagValues): TraceSettings {
  const deprecated: string[] = [];
  if (flags['trace-file'] !== undefined) deprecated.push(`triton,file=${flags['trace-file']}`);
  for (const level of (flags['trace-level'] as string[] | undefined) ?? []) deprecated.push(`level=${level}`);
  if (flags['trace-rate'] !== undefined) deprecated.push(`rate=${flags['trace-rate']}`);
  if (flags['trace-count'] !== undefined) deprecated.push(`count=${flags['trace-count']}`);
  if (flags['trace-log-frequency'] !== undefined) deprecated.push(`triton,log-frequency=${flags['trace-log-frequency']}`);
  const entries = [...deprecated, ...((flags['trace-config'] as string[] | undefined) ?? [])];
  return { ...DEFAULT_TRACE_SETTINGS, ...usage(() => traceSettingsFromConfig(entries)) };
}

function logger(flags: FlagValues): Logger {
  const format = (flags['log-format'] as string | undefined) ?? 'json';
  if (!LOG_FORMATS.includes(format as LogFormat)) throw new UsageError(`--log-format must be ${LOG_FORMATS.join(', ')}, got '${format}'`);
  const verboseLevel = (flags['log-verbose'] as number | undefined) ?? 0;
  if (verboseLevel < 0) throw new UsageError(`--log-verbose must be 0 or more, got ${verboseLevel}`);
  const settings = {
    verboseLevel,
    info: (flags['log-info'] as boolean | undefined) ?? true,
    warning: (flags['log-warning'] as boolean | undefined) ?? true,
    error: (flags['log-error'] as boolean | undefined) ?? true,
    format: format as LogFormat,
    file: (flags['log-file'] as string | undefined) ?? '',
  };
  return usage(() => new LogControl(settings).logger);
}

export function observabilityOptions(flags: FlagValues, httpAddress: string): ObservabilityOptions {
  const metricsPort = (flags['metrics-port'] as number | undefined) ?? DEFAULT_SERVER_OPTIONS.metricsPort;
  if (metricsPort < 0 || metricsPort > 65535) throw new UsageError(`--metrics-port must be between 0 and 65535, got ${metricsPort}`);
  const metricsIntervalMs = (flags['metrics-interval-ms'] as number | undefined) ?? DEFAULT_SERVER_OPTIONS.metricsIntervalMs;
  if (metricsIntervalMs <= 0) throw new UsageError(`--metrics-interval-ms must be positive, got ${metricsIntervalMs}`);
  return {
    allowMetrics: (flags['allow-metrics'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.allowMetrics,
    allowCpuMetrics: (flags['allow-cpu-metrics'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.allowCpuMetrics,
    allowGpuMetrics: (flags['allow-gpu-metrics'] as boolean | undefined) ?? DEFAULT_SERVER_OPTIONS.allowGpuMetrics,
    metricsAddress: (flags['metrics-address'] as string | undefined) ?? httpAddress,
    metricsPort,
    metricsIntervalMs,
    metricsConfig: usage(() => parseMetricsConfig((flags['metrics-config'] as string[] | undefined) ?? [])),
    trace: traceSettings(flags),
    logger: logger(flags),
  };
}
