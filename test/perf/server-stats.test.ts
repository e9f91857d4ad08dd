import { describe, expect, it } from 'vitest';
import { diffSnapshots, parseModelStats, serverSplit } from '../../src/perf/server-stats.js';
import { isStable } from '../../src/perf/stability.js';

/** The shape of Triton's GET /v2/models/{m}/stats answer (int64 as strings in its gRPC-JSON form, numbers over HTTP). */
function statsAnswer(scale: number) {
  const d = (count: number, ns: number) => ({ count: count * scale, ns: ns * scale });
  return {
    model_stats: [
      {
        name: 'add_sub',
        version: '1',
        last_inference: 1,
        inference_count: 10 * scale,
        execution_count: 5 * scale,
        inference_stats: {
          success: d(10, 2_000_000),
          fail: d(0, 0),
          queue: d(10, 500_000),
          compute_input: d(5, 100_000),
          compute_infer: d(5, 1_000_000),
          compute_output: d(5, 50_000),
        },
      },
      { name: 'add_sub', version: '2', inference_count: '7', inference_stats: { success: { count: '7', ns: '7000' } } },
      { name: 'other', version: '1', inference_count: 99 },
    ],
  };
}

describe('server-side statistics', () => {
  it('sums the chosen model version, differences two snapshots and splits the latency as perf_analyzer does', () => {
    const before = parseModelStats(statsAnswer(1), 'add_sub', '1');
    const after = parseModelStats(statsAnswer(3), 'add_sub', '1');
    const delta = diffSnapshots(after, before);
    expect(delta).toMatchObject({ inferenceCount: 20, executionCount: 10, success: { count: 20, ns: 4_000_000 }, queue: { count: 20, ns: 1_000_000 } });
    const split = serverSplit(delta, { avgLatencyUs: 300, sendUs: 10, recvUs: 5 });
    expect(split).toMatchObject({ successCount: 20, requestUs: 200, queueUs: 50, computeInputUs: 20, computeInferUs: 200, computeOutputUs: 10 });
    // Client wait 285 µs; the server accounts for 50 queue + 230 compute per execution.
    expect(split.networkUs).toBeCloseTo(5);
    expect(serverSplit(delta, { avgLatencyUs: 100, sendUs: 0, recvUs: 0 }).networkUs).toBe(0);
  });

  it('reads int64 counters given as strings and every version when none is named', () => {
    const all = parseModelStats(statsAnswer(1), 'add_sub', '');
    expect(all.inferenceCount).toBe(17);
    expect(all.success).toEqual({ count: 17, ns: 2_007_000 });
    expect(() => parseModelStats({ error: 'x' }, 'add_sub', '')).toThrow("statistics answer has no 'model_stats' array");
  });
});

describe('stability', () => {
  const w = (throughput: number, latencyUs: number) => ({ throughput, latencyUs });
  it('needs three windows within the percentage for throughput and latency', () => {
    expect(isStable([w(100, 10), w(105, 10)], 0.1)).toBe(false);
    expect(isStable([w(50, 99), w(100, 10), w(105, 10.5), w(109, 10.9)], 0.1)).toBe(true);
    expect(isStable([w(100, 10), w(105, 10), w(111, 10)], 0.1)).toBe(false);
    expect(isStable([w(100, 10), w(100, 12), w(100, 10)], 0.1)).toBe(false);
    expect(isStable([w(100, 10), w(100, 12), w(100, 10)], 0.1, false)).toBe(true);
    expect(isStable([w(0, 0), w(0, 0), w(0, 0)], 0.1)).toBe(false);
  });
});
