import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import type { CpuMetrics } from './cpu-metrics.js';
import type { GpuMetrics, GpuValues } from './gpu-metrics.js';
import type { LatencyObserver } from './latency-observer.js';
import type { MetricsConfig } from './metrics-config.js';
import type { DurationStat, FailureReason, ModelStatistics } from './model-statistics.js';

/** A model version the metrics report on: one that is loaded (READY, or UNLOADING while it drains). */
export interface ObservedVersion {
  modelName: string;
  version: string;
  statistics: ModelStatistics;
  /** Requests accepted and not yet handed to an instance. */
  queuedCount: number;
}

export interface PrometheusMetricsOptions {
  /** Read at every scrape: the versions loaded now. */
  versions: () => Iterable<ObservedVersion>;
  config: MetricsConfig;
  /** Absent with `--allow-cpu-metrics=false`. */
  cpu?: CpuMetrics;
  /** Absent with `--allow-gpu-metrics=false` or when the machine has no GPU NVML can read. */
  gpu?: GpuMetrics;
  /** `--cache-config` was given: the nv_cache_* families are reported, as Triton reports them only with a cache. */
  responseCache?: boolean;
}

const FAILURE_REASONS: readonly FailureReason[] = ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER'];

/** Microseconds as Triton's counters report them, from the nanoseconds the statistics extension reports (whole ns). */
const microseconds = (stat: DurationStat) => Math.floor(Math.round(stat.ns) / 1000);

/** Triton's quantile summaries are over a 60 s window in 5 buckets (prometheus-cpp's defaults). */
const SUMMARY_WINDOW = { maxAgeSeconds: 60, ageBuckets: 5 };

/** Triton's default buckets for the first-response histogram, in milliseconds. */
const FIRST_RESPONSE_BUCKETS_MS = [100, 500, 2000, 5000];

const versionKey = (model: string, version: string) => `${model}\u0000${version}`;

/**
 * Triton's Prometheus metrics with Triton's names, help texts and labels (`model`,
 * `version`). Counters and the pending-request gauge are read from each version's
 * ModelStatistics when scraped (prom-client collect callbacks), so serving requests
 * updates nothing here; only the optional summaries and histogram observe per request.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  private readonly summaries: Summary[] = [];
  private readonly histogram: Histogram | undefined;
  /**
   * Every version given an observer, to drop the label sets of those not loaded at a
   * scrape. An observation re-creates its label set, so a version still loading
   * loses nothing by being dropped.
   */
  private readonly observed = new Map<string, [string, string]>();

  constructor(private readonly options: PrometheusMetricsOptions) {
    const { config } = options;
    const registers = [this.registry];
    const labelNames = ['model', 'version'] as const;
    const versions = () => options.versions();
    const perVersion = (name: string, help: string, value: (stats: ModelStatistics) => number) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const v of versions()) this.inc({ model: v.modelName, version: v.version }, value(v.statistics));
        },
      });

    perVersion('nv_inference_request_success', 'Number of successful inference requests, all batch sizes', (s) => s.success.count);
    new Counter({
      name: 'nv_inference_request_failure',
      help: 'Number of failed inference requests, all batch sizes',
      labelNames: ['model', 'reason', 'version'],
      registers,
      collect() {
        this.reset();
        for (const v of versions()) {
          for (const reason of FAILURE_REASONS) this.inc({ model: v.modelName, reason, version: v.version }, v.statistics.failures[reason]);
        }
      },
    });
    perVersion('nv_inference_count', 'Number of inferences performed (does not include cached requests)', (s) => s.inferenceCount);
    perVersion('nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)', (s) => s.executionCount);
    if (config.counterLatencies) {
      perVersion('nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds (includes cached requests)', (s) => microseconds(s.success));
      perVersion('nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds (includes cached requests)', (s) => microseconds(s.queue));
      perVersion('nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds (does not include cached requests)', (s) => microseconds(s.computeInput));
      perVersion('nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds (does not include cached requests)', (s) => microseconds(s.computeInfer));
      perVersion('nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds (does not include cached requests)', (s) => microseconds(s.computeOutput));
    }
    if (options.responseCache) {
      perVersion('nv_cache_num_hits_per_model', 'Number of cache hits per model', (s) => s.cacheHit.count);
      perVersion('nv_cache_num_misses_per_model', 'Number of cache misses per model', (s) => s.cacheMiss.count);
      perVersion('nv_cache_hit_duration_per_model', 'Total cache hit lookup duration per model, in microseconds', (s) => microseconds(s.cacheHit));
      perVersion('nv_cache_miss_duration_per_model', 'Total cache miss (insert+lookup) duration per model, in microseconds', (s) => microseconds(s.cacheMiss));
    }
    new Gauge({
      name: 'nv_inference_pending_request_count',
      help: 'Instantaneous number of pending requests awaiting execution per-model.',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const v of versions()) this.set({ model: v.modelName, version: v.version }, v.queuedCount);
      },
    });

    if (config.summaryLatencies) {
      const summary = (name: string, help: string) =>
        new Summary({ name, help, labelNames, registers, percentiles: config.summaryQuantiles, ...SUMMARY_WINDOW });
      this.summaries.push(
        summary('nv_inference_request_summary_us', 'Summary of inference request duration in microseconds (includes cached requests)'),
        summary('nv_inference_queue_summary_us', 'Summary of inference queuing duration in microseconds (includes cached requests)'),
        summary('nv_inference_compute_input_summary_us', 'Summary of compute input duration in microseconds (does not include cached requests)'),
        summary('nv_inference_compute_infer_summary_us', 'Summary of compute inference duration in microseconds (does not include cached requests)'),
        summary('nv_inference_compute_output_summary_us', 'Summary of inference compute output duration in microseconds (does not include cached requests)'),
      );
    }
    if (config.histogramLatencies) {
      this.histogram = new Histogram({
        name: 'nv_inference_first_response_histogram_ms',
        help: 'Duration from request to first response in milliseconds',
        labelNames,
        registers,
        buckets: FIRST_RESPONSE_BUCKETS_MS,
      });
    }

    const { cpu } = options;
    if (cpu) {
      const gauge = (name: string, help: string, value: () => number) =>
        new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(value());
          },
        });
      gauge('nv_cpu_utilization', 'CPU utilization rate [0.0 - 1.0]', () => cpu.utilization);
      gauge('nv_cpu_memory_total_bytes', 'CPU total memory (RAM), in bytes', () => cpu.memoryTotalBytes);
      gauge('nv_cpu_memory_used_bytes', 'CPU used memory (RAM), in bytes', () => cpu.memoryUsedBytes);
    }

    const { gpu } = options;
    if (gpu) {
      const perGpu = (name: string, help: string, value: (device: GpuValues) => number) =>
        new Gauge({
          name,
          help,
          labelNames: ['gpu_uuid'],
          registers,
          collect() {
            for (const device of gpu.devices) this.set({ gpu_uuid: device.uuid }, value(device));
          },
        });
      perGpu('nv_gpu_utilization', 'GPU utilization rate [0.0 - 1.0)', (d) => d.utilization);
      perGpu('nv_gpu_memory_total_bytes', 'GPU total memory, in bytes', (d) => d.memoryTotalBytes);
      perGpu('nv_gpu_memory_used_bytes', 'GPU used memory, in bytes', (d) => d.memoryUsedBytes);
      perGpu('nv_gpu_power_usage', 'GPU power usage in watts', (d) => d.powerUsageWatts);
      perGpu('nv_gpu_power_limit', 'GPU power management limit in watts', (d) => d.powerLimitWatts);
      new Counter({
        name: 'nv_energy_consumption',
        help: 'GPU energy consumption in joules since the server started',
        labelNames: ['gpu_uuid'],
        registers,
        collect() {
          this.reset();
          for (const device of gpu.devices) this.inc({ gpu_uuid: device.uuid }, device.energyJoules);
        },
      });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * What a new version's statistics report each success to, when summaries or the
   * histogram are on; undefined otherwise, so that statistics observe nothing.
   */
  latencyObserver(model: string, version: string): LatencyObserver | undefined {
    if (this.summaries.length === 0 && !this.histogram) return undefined;
    this.observed.set(versionKey(model, version), [model, version]);
    const [request, queue, input, infer, output] = this.summaries.map((summary) => summary.labels(model, version));
    const firstResponse = this.histogram?.labels(model, version);
    return {
      observe(requestNs, queueNs, compute) {
        if (request) {
          request.observe(requestNs / 1000);
          queue.observe(queueNs / 1000);
          input.observe(compute.inputNs / 1000);
          infer.observe(compute.inferNs / 1000);
          output.observe(compute.outputNs / 1000);
        }
        // A model that is not decoupled answers once: its first response is its whole request.
        firstResponse?.observe(requestNs / 1e6);
      },
    };
  }

  /** The exposition text of every metric, as read now. */
  async text(): Promise<string> {
    this.dropUnloaded();
    return this.registry.metrics();
  }

  /** Summaries and histograms of versions no longer loaded disappear, as the counters of those versions do. */
  private dropUnloaded(): void {
    if (this.observed.size === 0) return;
    const live = new Set<string>();
    for (const v of this.options.versions()) live.add(versionKey(v.modelName, v.version));
    for (const [key, [model, version]] of this.observed) {
      if (live.has(key)) continue;
      for (const summary of this.summaries) summary.remove(model, version);
      this.histogram?.remove(model, version);
    }
  }
}
