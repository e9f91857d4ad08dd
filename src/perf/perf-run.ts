/**
 * One `nereid perf` run: reads the model from the server, plans the requests,
 * starts the load workers and sweeps the load levels. At each level it measures
 * windows until the last three agree (perf_analyzer's stability rule) or the
 * trials run out, then reports the merged windows. The sweep ends at the last
 * level, at the latency threshold, at an unstable level, or when every request
 * of a window failed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InferenceError } from '../core/index.js';
import { parseEndpoint, type Endpoint } from './endpoint.js';
import { GrpcControl } from './grpc-control.js';
import { encodeGrpcInferRequest } from './grpc-infer-request.js';
import { HttpControl } from './http-control.js';
import { encodeHttpInferRequest, type TensorTransport } from './http-infer-request.js';
import { fileSteps, generatedSteps } from './input-data.js';
import { LoadWorkers } from './load-workers.js';
import { mergeWindows, windowOf, type MeasurementWindow } from './measurement-window.js';
import { loadLevels, type PerfOptions, type TensorFormat } from './perf-options.js';
import { levelResult, stabilizingLatencyUs, type LevelResult, type PerfResult } from './perf-result.js';
import type { ModelInfo } from './model-info.js';
import { planRequests, type PlannedRequest } from './request-plan.js';
import { outputByteSizes, SystemSharedMemory } from './shared-memory.js';
import type { ServerControl } from './server-control.js';
import { diffSnapshots, type StatsSnapshot } from './server-stats.js';
import { isStable, STABILITY_WINDOWS } from './stability.js';

export interface WindowProgress {
  /** `concurrency 4`, `request rate 200/s`. */
  level: string;
  trial: number;
  maxTrials: number;
  throughput: number;
  latencyUs: number;
  errorCount: number;
}

export interface PerfHooks {
  /** Once the model is read and the workers run, before the first window. */
  onStart?(facts: { threads: number; serverStatistics: PerfResult['serverStatistics'] }): void;
  onWindow?(progress: WindowProgress): void;
  onLevel?(level: LevelResult): void;
  onWarning?(message: string): void;
  /** Aborting ends the run after the current window; the levels measured so far are kept. */
  signal?: AbortSignal;
}

/** count_windows: a window lasts whole periods of this length until it has its requests, as in perf_analyzer. */
const COUNT_WINDOW_STEP_MS = 1000;

/**
 * Lets the current window run: for its fixed length (time_windows), or one second at
 * a time until it has completed the requests it needs (count_windows). Rejects when
 * the run is aborted.
 */
async function windowElapsed(workers: LoadWorkers, options: PerfOptions, signal: AbortSignal | undefined): Promise<void> {
  if (options.measurementMode === 'time_windows') {
    await sleep(options.measurementIntervalMs, undefined, { signal });
    return;
  }
  do await sleep(COUNT_WINDOW_STEP_MS, undefined, { signal });
  while ((await workers.completed()) < options.measurementRequestCount);
}

/** Above this event-loop utilisation a worker, not the server, may be what limits the load. */
const SATURATED_WORKER = 0.9;
/** perf_analyzer warns when the generator falls behind the schedule for more than this share of requests. */
const DELAYED_WARNING_PERCENT = 10;

function levelLabel(options: PerfOptions, level: number): string {
  return options.load.kind === 'concurrency' ? `concurrency ${level}` : `request rate ${level}/s`;
}

async function readModel(control: ServerControl, options: PerfOptions) {
  const extensions = await control.extensions();
  if (options.sharedMemory === 'system' && !extensions.includes('system_shared_memory')) {
    throw new InferenceError('UNSUPPORTED', `--shared-memory system: the server at ${control.endpoint} does not offer the system_shared_memory extension; use --shared-memory none`);
  }
  const info = await control.modelInfo(options.model, options.version);
  const steps =
    options.inputData.kind === 'files'
      ? fileSteps(options.inputData.paths, info.inputs, options.shapes)
      : generatedSteps(info.inputs, options.shapes, options.inputData.kind, { length: options.stringLength, data: options.stringData });
  return { extensions, info, requests: planRequests(info, steps, options.batchSize) };
}

/** Writes the inputs into a shared-memory object and registers it with the server as one region. */
async function placeInSharedMemory(control: ServerControl, info: ModelInfo, requests: readonly PlannedRequest[], options: PerfOptions): Promise<SystemSharedMemory> {
  const shm = SystemSharedMemory.create(requests, outputByteSizes(info, options.batchSize, options.outputSharedMemorySize));
  try {
    await control.registerSystemSharedMemory(shm.layout.region, shm.layout.key, shm.layout.byteSize);
  } catch (err) {
    shm.unlink();
    throw err;
  }
  return shm;
}

/** perf_analyzer sends binary tensors by default; a server without the extension gets JSON unless asked otherwise. */
function tensorFormats(options: PerfOptions, extensions: readonly string[]): { inputs: TensorFormat; outputs: TensorFormat } {
  const offered = extensions.includes('binary_tensor_data');
  const formats = { inputs: options.inputTensorFormat ?? (offered ? 'binary' : 'json'), outputs: options.outputTensorFormat ?? (offered ? 'binary' : 'json') } as const;
  if (!offered && (formats.inputs === 'binary' || formats.outputs === 'binary')) {
    throw new InferenceError('UNSUPPORTED', 'binary tensor format: the server does not offer the binary_tensor_data extension; use --input-tensor-format json --output-tensor-format json');
  }
  return formats;
}

function encodeRequests(
  requests: readonly PlannedRequest[],
  info: ModelInfo,
  options: PerfOptions,
  endpoint: Endpoint,
  formats: { inputs: TensorFormat; outputs: TensorFormat },
  shm: SystemSharedMemory | undefined,
): Uint8Array[] {
  return requests.map((request, i) => {
    const places = shm ? { inputs: shm.layout.inputs[i], outputs: shm.layout.outputs } : undefined;
    if (options.protocol === 'grpc') return new Uint8Array(encodeGrpcInferRequest(request, options.model, options.version, options.requestParameters, places));
    const transport: TensorTransport = places
      ? { kind: 'shared-memory', places }
      : { kind: 'body', inputs: formats.inputs, outputs: formats.outputs, outputNames: info.outputs.map((o) => o.name) };
    const target = { endpoint, model: options.model, version: options.version, headers: options.headers, parameters: options.requestParameters };
    return new Uint8Array(encodeHttpInferRequest(request, target, transport));
  });
}

export async function runPerf(options: PerfOptions, hooks: PerfHooks = {}): Promise<PerfResult> {
  const endpoint = parseEndpoint(options.url, options.protocol);
  const control: ServerControl = options.protocol === 'grpc' ? new GrpcControl(endpoint) : new HttpControl(endpoint);
  let shm: SystemSharedMemory | undefined;
  try {
    const { extensions, info, requests } = await readModel(control, options);
    const formats = options.protocol === 'http' && options.sharedMemory === 'none' ? tensorFormats(options, extensions) : undefined;
    if (options.sharedMemory === 'system') shm = await placeInSharedMemory(control, info, requests, options);
    const encoded = encodeRequests(requests, info, options, endpoint, formats ?? { inputs: 'json', outputs: 'json' }, shm);
    const result = await measure(control, endpoint, options, hooks, extensions, encoded);
    return { ...result, tensorFormat: formats ?? null };
  } finally {
    if (shm) {
      // Best effort: a server that went away has no region left to unregister; the object goes regardless.
      await control.unregisterSystemSharedMemory(shm.layout.region).catch(() => undefined);
      shm.unlink();
    }
    control.close();
  }
}

/** The sweep over the load levels, with the encoded requests. */
async function measure(
  control: ServerControl,
  endpoint: Endpoint,
  options: PerfOptions,
  hooks: PerfHooks,
  extensions: readonly string[],
  requests: Uint8Array[],
): Promise<Omit<PerfResult, 'tensorFormat'>> {
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    hooks.onWarning?.(message);
  };

  let statsReason: string | undefined;
  if (!extensions.includes('statistics')) statsReason = `the server at ${control.endpoint} does not offer the statistics extension`;
  else {
    try {
      await control.modelStats(options.model, options.version);
    } catch (err) {
      statsReason = (err as Error).message;
    }
  }
  const readStats = async (): Promise<StatsSnapshot | undefined> => {
    if (statsReason) return undefined;
    try {
      return await control.modelStats(options.model, options.version);
    } catch (err) {
      statsReason = (err as Error).message;
      warn(`server-side statistics stopped: ${statsReason}`);
      return undefined;
    }
  };

  const { range } = options.load;
  const threads = options.load.kind === 'concurrency' && range.end !== 0 ? Math.min(options.maxThreads, range.end) : options.maxThreads;
  const workers = await LoadWorkers.start(threads, {
    protocol: options.protocol,
    endpoint,
    requests,
    streaming: options.streaming,
    drainTimeoutMs: options.drainTimeoutMs,
  });

  const levels: LevelResult[] = [];
  let stopReason: string | null = null;
  let errorCount = 0;
  let unansweredCount = 0;
  let failed = false;
  try {
    hooks.onStart?.({ threads, serverStatistics: statsReason ? { available: false, reason: statsReason } : { available: true } });
    for (const level of loadLevels(range)) {
      if (hooks.signal?.aborted) {
        stopReason = 'interrupted';
        break;
      }
      const label = levelLabel(options, level);
      if (options.load.kind === 'concurrency') workers.setConcurrency(level);
      else workers.setRequestRate(level, options.load.distribution, 0x5eed + levels.length);
      let statsBefore = await readStats();
      let cpuBefore = process.cpuUsage();

      const windows: MeasurementWindow[] = [];
      let stable = false;
      let allFailed = false;
      let overThreshold = false;
      const figures = () => windows.map((w) => ({ throughput: w.requestsPerSecond, latencyUs: stabilizingLatencyUs(w, options.percentile) }));
      for (let trial = 1; trial <= options.maxTrials; trial++) {
        try {
          await windowElapsed(workers, options, hooks.signal);
        } catch (err) {
          if (hooks.signal?.aborted) break; // what was measured so far still counts
          throw err;
        }
        const workerWindows = await workers.collect();
        const cpu = process.cpuUsage(cpuBefore);
        cpuBefore = process.cpuUsage();
        const statsAfter = await readStats();
        const delta = statsAfter && statsBefore ? diffSnapshots(statsAfter, statsBefore) : undefined;
        statsBefore = statsAfter;
        const window = windowOf(workerWindows, cpu.user + cpu.system, delta);
        windows.push(window);
        errorCount += window.errorCount;
        hooks.onWindow?.({
          level: label,
          trial,
          maxTrials: options.maxTrials,
          throughput: window.requestsPerSecond * options.batchSize,
          latencyUs: stabilizingLatencyUs(window, options.percentile),
          errorCount: window.errorCount,
        });
        if (window.okCount === 0 && window.errorCount > 0) {
          allFailed = true;
          break;
        }
        stable = isStable(figures(), options.stabilityFraction);
        if (stable) break;
        const recent = figures().slice(-STABILITY_WINDOWS);
        if (options.latencyThresholdMs > 0 && recent.length === STABILITY_WINDOWS && recent.some((f) => f.latencyUs >= options.latencyThresholdMs * 1000)) {
          overThreshold = true;
          break;
        }
      }
      if (windows.length === 0) {
        stopReason = 'interrupted';
        break;
      }
      if (!stable && !allFailed && !overThreshold && isStable(figures(), options.stabilityFraction, false)) {
        // perf_analyzer's rule for asynchronous loads: a steady throughput with a drifting latency still counts.
        warn(`${label}: request latency is not stabilizing; try a lower load`);
        stable = true;
      }
      const merged = mergeWindows(windows.slice(-STABILITY_WINDOWS));
      const allErrors = mergeWindows(windows);
      merged.errorCount = allErrors.errorCount;
      merged.errors = allErrors.errors;
      const within = options.latencyThresholdMs === 0 || stabilizingLatencyUs(merged, options.percentile) < options.latencyThresholdMs * 1000;
      const result = levelResult(options.load.kind === 'concurrency' ? { concurrency: level } : { requestRate: level }, merged, {
        stable,
        withinLatencyThreshold: within,
        windows: windows.length,
        mergedWindows: Math.min(windows.length, STABILITY_WINDOWS),
        batchSize: options.batchSize,
        threads,
        percentile: options.percentile,
      });
      levels.push(result);
      if (result.generator.eventLoopUtilization > SATURATED_WORKER) {
        warn(`${label}: the load generator's threads were busy ${(result.generator.eventLoopUtilization * 100).toFixed(0)} % of the time; the generator may limit the load (raise --max-threads)`);
      }
      if (options.load.kind === 'request-rate' && result.generator.delayedPercent > DELAYED_WARNING_PERCENT) {
        warn(`${label}: ${result.generator.delayedPercent.toFixed(1)} % of the requests left late; the generator could not keep up with the rate`);
      }
      hooks.onLevel?.(result);
      if (allFailed) {
        stopReason = `every request failed at ${label}: ${result.errors[0]?.message ?? 'unknown error'}`;
        break;
      }
      if (hooks.signal?.aborted) {
        stopReason = 'interrupted';
        break;
      }
      if (!within) {
        stopReason = `latency went over the ${options.latencyThresholdMs} ms threshold at ${label}`;
        break;
      }
      if (!stable) {
        const longer = options.measurementMode === 'time_windows' ? '--measurement-interval' : '--measurement-request-count';
        stopReason = `no stable measurement at ${label} within ${options.maxTrials} windows; increase ${longer}`;
        warn(stopReason);
        break;
      }
    }
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // After a failure, the failure is what the caller must see, not a second one from stopping.
    const stopped = await workers.stop().catch((err: unknown) => {
      if (!failed) throw err;
      return { abandoned: 0, errorCount: 0 };
    });
    unansweredCount = stopped.abandoned;
    errorCount += stopped.errorCount;
  }
  if (unansweredCount > 0) warn(`${unansweredCount} requests had no answer ${options.drainTimeoutMs / 1000} s after the load stopped`);
  return {
    model: options.model,
    version: options.version,
    url: options.url,
    protocol: options.protocol,
    streaming: options.streaming,
    sharedMemory: options.sharedMemory,
    batchSize: options.batchSize,
    mode: options.load.kind,
    ...(options.load.kind === 'request-rate' ? { requestDistribution: options.load.distribution } : {}),
    measurementMode: options.measurementMode,
    measurementIntervalMs: options.measurementIntervalMs,
    measurementRequestCount: options.measurementRequestCount,
    stabilityPercentage: options.stabilityFraction * 100,
    maxTrials: options.maxTrials,
    percentile: options.percentile ?? null,
    latencyThresholdMs: options.latencyThresholdMs,
    threads,
    serverStatistics: statsReason ? { available: false, reason: statsReason } : { available: true },
    levels,
    errorCount: errorCount + unansweredCount,
    unansweredCount,
    stopReason,
    warnings,
  };
}
