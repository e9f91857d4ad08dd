/**
 * `--metrics-config <setting>=<value>` (repeatable), with Triton's settings:
 * `counter_latencies` (default true), `summary_latencies`, `summary_quantiles`
 * (`0.5:0.05,0.9:0.01,…`, quantile:error pairs) and `histogram_latencies`.
 */
export interface MetricsConfig {
  /** The cumulative `nv_inference_*_duration_us` counters. */
  counterLatencies: boolean;
  /** The `nv_inference_*_summary_us` summaries, observed per request. */
  summaryLatencies: boolean;
  /** Quantiles the summaries report. prom-client computes them exactly over its window, so the error half of each pair is accepted and not used. */
  summaryQuantiles: number[];
  /** `nv_inference_first_response_histogram_ms`, observed per request. */
  histogramLatencies: boolean;
}

/** Triton's defaults (its summary quantiles are 0.5, 0.9, 0.95, 0.99 and 0.999). */
export const DEFAULT_METRICS_CONFIG: Readonly<MetricsConfig> = {
  counterLatencies: true,
  summaryLatencies: false,
  summaryQuantiles: [0.5, 0.9, 0.95, 0.99, 0.999],
  histogramLatencies: false,
};

function parseBoolean(setting: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`--metrics-config ${setting} expects true or false, got '${value}'`);
}

function parseQuantiles(value: string): number[] {
  return value.split(',').map((pair) => {
    const [quantile, error, extra] = pair.trim().split(':');
    const q = Number(quantile);
    const e = Number(error);
    if (extra !== undefined || error === undefined || !(q > 0 && q < 1) || !(e >= 0 && e < 1)) {
      throw new Error(`--metrics-config summary_quantiles expects <quantile>:<error> pairs with both in (0, 1) separated by commas, got '${pair}'`);
    }
    return q;
  });
}

export function parseMetricsConfig(entries: readonly string[]): MetricsConfig {
  const config: MetricsConfig = { ...DEFAULT_METRICS_CONFIG };
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`--metrics-config expects <setting>=<value>, got '${entry}'`);
    const setting = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    switch (setting) {
      case 'counter_latencies':
        config.counterLatencies = parseBoolean(setting, value);
        break;
      case 'summary_latencies':
        config.summaryLatencies = parseBoolean(setting, value);
        break;
      case 'summary_quantiles':
        config.summaryQuantiles = parseQuantiles(value);
        break;
      case 'histogram_latencies':
        config.histogramLatencies = parseBoolean(setting, value);
        break;
      default:
        throw new Error(
          `--metrics-config: unknown setting '${setting}' (known: counter_latencies, summary_latencies, summary_quantiles, histogram_latencies)`,
        );
    }
  }
  return config;
}
