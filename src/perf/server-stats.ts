/**
 * The server-side split of latency from Triton's statistics extension
 * (`GET /v2/models/{m}/stats`, gRPC `ModelStatistics`): cumulative counters read
 * before and after each measurement window, differenced, and turned into the
 * per-request averages perf_analyzer reports (queue, compute input/infer/output,
 * and the network + server overhead that neither side accounts for).
 */

export interface DurationCounter {
  count: number;
  ns: number;
}

export interface StatsSnapshot {
  success: DurationCounter;
  fail: DurationCounter;
  queue: DurationCounter;
  computeInput: DurationCounter;
  computeInfer: DurationCounter;
  computeOutput: DurationCounter;
  inferenceCount: number;
  executionCount: number;
}

/** Averages in microseconds per request, as perf_analyzer's CSV columns hold them. */
export interface ServerSplit {
  successCount: number;
  inferenceCount: number;
  executionCount: number;
  /** Average request time inside the server. */
  requestUs: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
  /** Client wait time the server's counters do not explain: network and server send/receive. */
  networkUs: number;
}

const zero = (): DurationCounter => ({ count: 0, ns: 0 });

export function emptySnapshot(): StatsSnapshot {
  return {
    success: zero(),
    fail: zero(),
    queue: zero(),
    computeInput: zero(),
    computeInfer: zero(),
    computeOutput: zero(),
    inferenceCount: 0,
    executionCount: 0,
  };
}

/** int64 fields arrive as numbers, or as strings in protobuf's JSON mapping. */
function num(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : 0;
  return Number.isFinite(n) ? n : 0;
}

function counter(value: unknown): DurationCounter {
  const record = (value ?? {}) as Record<string, unknown>;
  return { count: num(record.count), ns: num(record.ns) };
}

/**
 * Sums the entries of `model` (and of `version`, when given) in a statistics answer:
 * the JSON of the HTTP endpoint and the gRPC message share the field names.
 */
export function parseModelStats(answer: unknown, model: string, version: string): StatsSnapshot {
  const entries = (answer as { model_stats?: unknown[] } | undefined)?.model_stats;
  if (!Array.isArray(entries)) throw new Error(`statistics answer has no 'model_stats' array`);
  const total = emptySnapshot();
  for (const entry of entries as Array<Record<string, unknown>>) {
    if (entry.name !== model || (version && String(entry.version) !== version)) continue;
    const stats = (entry.inference_stats ?? {}) as Record<string, unknown>;
    const add = (into: DurationCounter, from: DurationCounter) => {
      into.count += from.count;
      into.ns += from.ns;
    };
    add(total.success, counter(stats.success));
    add(total.fail, counter(stats.fail));
    add(total.queue, counter(stats.queue));
    add(total.computeInput, counter(stats.compute_input));
    add(total.computeInfer, counter(stats.compute_infer));
    add(total.computeOutput, counter(stats.compute_output));
    total.inferenceCount += num(entry.inference_count);
    total.executionCount += num(entry.execution_count);
  }
  return total;
}

export function diffSnapshots(after: StatsSnapshot, before: StatsSnapshot): StatsSnapshot {
  const d = (a: DurationCounter, b: DurationCounter): DurationCounter => ({ count: a.count - b.count, ns: a.ns - b.ns });
  return {
    success: d(after.success, before.success),
    fail: d(after.fail, before.fail),
    queue: d(after.queue, before.queue),
    computeInput: d(after.computeInput, before.computeInput),
    computeInfer: d(after.computeInfer, before.computeInfer),
    computeOutput: d(after.computeOutput, before.computeOutput),
    inferenceCount: after.inferenceCount - before.inferenceCount,
    executionCount: after.executionCount - before.executionCount,
  };
}

export function addSnapshots(a: StatsSnapshot, b: StatsSnapshot): StatsSnapshot {
  return diffSnapshots(a, diffSnapshots(emptySnapshot(), b));
}

const averageUs = (c: DurationCounter) => (c.count > 0 ? c.ns / c.count / 1000 : 0);

/**
 * perf_analyzer's split: the client's average wait (latency less its own send and
 * receive time) less what the server accounts for is the network + server I/O
 * share, floored at zero because the two sides measure different requests.
 */
export function serverSplit(delta: StatsSnapshot, client: { avgLatencyUs: number; sendUs: number; recvUs: number }): ServerSplit {
  const queueUs = averageUs(delta.queue);
  const computeInputUs = averageUs(delta.computeInput);
  const computeInferUs = averageUs(delta.computeInfer);
  const computeOutputUs = averageUs(delta.computeOutput);
  const computeCount = delta.computeInput.count;
  const computeUs = computeCount > 0 ? (delta.computeInput.ns + delta.computeInfer.ns + delta.computeOutput.ns) / computeCount / 1000 : 0;
  const clientWaitUs = client.avgLatencyUs - client.sendUs - client.recvUs;
  return {
    successCount: delta.success.count,
    inferenceCount: delta.inferenceCount,
    executionCount: delta.executionCount,
    requestUs: averageUs(delta.success),
    queueUs,
    computeInputUs,
    computeInferUs,
    computeOutputUs,
    networkUs: Math.max(0, clientWaitUs - queueUs - computeUs),
  };
}
