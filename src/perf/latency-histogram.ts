/**
 * Latency distribution of a window or a load level, in microseconds, on
 * HdrHistogram: three significant digits at any magnitude, so a p99 of a few
 * milliseconds and one of several seconds are both exact to 0.1 %.
 */
import { build, type Histogram } from 'hdr-histogram-js';

/** One hour: anything slower is recorded as one hour. */
const HIGHEST_US = 3_600_000_000;

export interface LatencySummary {
  count: number;
  avgUs: number;
  stdUs: number;
  minUs: number;
  maxUs: number;
  /** Percentile (50, 90, 95, 99 and any asked for) → microseconds. */
  percentilesUs: Record<number, number>;
}

export class LatencyHistogram {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });

  recordAll(latenciesUs: Uint32Array): void {
    for (const value of latenciesUs) this.histogram.recordValue(Math.min(value, HIGHEST_US));
  }

  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  get meanUs(): number {
    return this.histogram.totalCount > 0 ? this.histogram.mean : 0;
  }

  percentileUs(percentile: number): number {
    return this.histogram.totalCount > 0 ? this.histogram.getValueAtPercentile(percentile) : 0;
  }

  summary(percentiles: readonly number[]): LatencySummary {
    const h = this.histogram;
    const empty = h.totalCount === 0;
    return {
      count: h.totalCount,
      avgUs: this.meanUs,
      stdUs: empty ? 0 : h.stdDeviation,
      minUs: empty ? 0 : h.minNonZeroValue,
      maxUs: empty ? 0 : h.maxValue,
      percentilesUs: Object.fromEntries(percentiles.map((p) => [p, this.percentileUs(p)])),
    };
  }
}
