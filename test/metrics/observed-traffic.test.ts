/**
 * Known traffic in, the same numbers out: requests of known outcomes and batches of
 * known sizes (the batch-recorder model behind a dynamic batcher, held by a gate while
 * requests queue), then a Prometheus scrape, the statistics extension over HTTP and
 * the same over gRPC must all agree with what was sent and with each other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/index.js';
import { InferenceClient, type Message } from '../helpers/grpc-client.js';
import { addJavaScriptModel, Gate, pending, record, recorderConfig, waitFor, type RecordedAnswer } from '../helpers/javascript-models.js';
import { sampleValue, scrape, type Scrape } from '../helpers/prometheus-text.js';
import { getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const ONE_INSTANCE = 'instance_group [{ count: 1, kind: KIND_CPU }]';
const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  // Without preferred sizes or a delay, an idle instance takes everything queued: the gate decides the batches.
  addJavaScriptModel(repo.root, 'batched', recorderConfig(`${ONE_INSTANCE}\ndynamic_batching { }`));
  addJavaScriptModel(repo.root, 'bounded', recorderConfig(`${ONE_INSTANCE}\ndynamic_batching { default_queue_policy { max_queue_size: 1 } }`));
  t = await startTestServer({
    modelRepositories: [repo.root],
    modelControlMode: 'explicit',
    loadModels: ['*'],
    exitOnError: true,
    metricsConfig: { ...DEFAULT_METRICS_CONFIG, summaryLatencies: true, histogramLatencies: true },
  });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
});

const send = (model: string, values: number[], rows = 1, parameters?: Record<string, string | number | boolean>) => record(t.url, model, values, rows, parameters);
const labels = (model: string) => ({ model, version: '1' });

async function block(model: string): Promise<{ gate: Gate; answer: Promise<RecordedAnswer> }> {
  const gate = new Gate(repo.root);
  const answer = send(model, [-1], 1, { gate: gate.path });
  await gate.started();
  return { gate, answer };
}

async function queue(model: string, count: number): Promise<Array<Promise<RecordedAnswer>>> {
  const answers: Array<Promise<RecordedAnswer>> = [];
  for (let k = 0; k < count; k++) {
    const before = pending(t.server, model);
    answers.push(send(model, [k]));
    await waitFor(() => pending(t.server, model) === before + 1, `request ${k} to be queued`);
  }
  return answers;
}

/** gRPC int64 fields arrive as numbers (the test client's longs: Number); HTTP's are JSON numbers. */
const statsOf = (answer: Message, model: string) => answer.model_stats.find((s: Message) => s.name === model);

describe('known traffic', () => {
  let metrics: Scrape;
  let http: Message;
  let grpc: Message;

  beforeAll(async () => {
    // Batch 1: the gated request. Four requests queue behind it (the pending gauge sees them), then go as one batch of 4.
    const { gate, answer } = await block('batched');
    const queued = await queue('batched', 4);
    expect(sampleValue(await scrape(t.metricsUrl), 'nv_inference_pending_request_count', labels('batched'))).toBe(4);
    gate.open();
    expect((await answer).batchRows).toBe(1);
    expect((await Promise.all(queued)).map((a) => a.batchRows)).toEqual([4, 4, 4, 4]);
    // Batch 3: one request of three rows.
    expect((await send('batched', [1, 2, 3], 3)).batchRows).toBe(3);
    // Two executions of one row whose requests the model fails (BACKEND), one refused by validation (OTHER).
    for (const k of [1, 2]) expect((await send('batched', [k], 1, { fail: 'on purpose' })).status).toBe(500);
    expect((await send('batched', new Array(9).fill(0), 9)).status).toBe(400);
    // A client that gives up while queued (CANCELED), and a request refused by a full queue (REJECTED).
    const held = await block('bounded');
    const controller = new AbortController();
    const abandoned = fetch(`${t.url}/v2/models/bounded/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1] }] }),
      signal: controller.signal,
    }).catch((err: Error) => err.name);
    await waitFor(() => pending(t.server, 'bounded') === 2, 'the request to be queued');
    expect((await send('bounded', [2])).status).toBe(503);
    controller.abort();
    expect(await abandoned).toBe('AbortError');
    await waitFor(() => pending(t.server, 'bounded') === 1, 'the abandoned request to leave the queue');
    held.gate.open();
    await held.answer;

    metrics = await scrape(t.metricsUrl);
    http = (await getJson(`${t.url}/v2/models/stats`)).json;
    grpc = await client.call('ModelStatistics', {});
  });

  it('counts requests, rows and executions as sent', () => {
    const m = (name: string, model = 'batched') => sampleValue(metrics, name, labels(model));
    expect(m('nv_inference_request_success')).toBe(6);
    expect(m('nv_inference_count')).toBe(8);
    expect(m('nv_inference_exec_count')).toBe(5);
    const failures = (model: string, reason: string) => sampleValue(metrics, 'nv_inference_request_failure', { ...labels(model), reason });
    expect(['REJECTED', 'CANCELED', 'BACKEND', 'OTHER'].map((reason) => failures('batched', reason))).toEqual([0, 0, 2, 1]);
    expect(['REJECTED', 'CANCELED', 'BACKEND', 'OTHER'].map((reason) => failures('bounded', reason))).toEqual([1, 1, 0, 0]);
    expect(m('nv_inference_request_success', 'bounded')).toBe(1);
    expect(m('nv_inference_pending_request_count')).toBe(0);

    const stats = statsOf(http, 'batched');
    expect(stats).toMatchObject({ name: 'batched', version: '1', inference_count: 8, execution_count: 5 });
    expect(stats.inference_stats.success.count).toBe(6);
    expect(stats.inference_stats.fail.count).toBe(3);
    expect(statsOf(http, 'bounded').inference_stats.fail.count).toBe(2);
    expect(stats.last_inference).toBeGreaterThan(Date.now() - 60_000);
  });

  it('reports each batch size with the executions it had', () => {
    const batches = statsOf(http, 'batched').batch_stats.map((b: Message) => [b.batch_size, b.compute_infer.count]);
    expect(batches).toEqual([
      [1, 3],
      [3, 1],
      [4, 1],
    ]);
  });

  it('gives positive durations that add up: queue + compute <= request', () => {
    const s = statsOf(http, 'batched').inference_stats;
    for (const key of ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output']) {
      expect(s[key].ns, key).toBeGreaterThan(0);
      expect(Number.isInteger(s[key].ns), key).toBe(true);
    }
    for (const key of ['queue', 'compute_input', 'compute_infer', 'compute_output']) expect(s[key].count, key).toBe(6);
    expect(s.queue.ns + s.compute_input.ns + s.compute_infer.ns + s.compute_output.ns).toBeLessThanOrEqual(s.success.ns);
    expect(s.cache_hit).toEqual({ count: 0, ns: 0 });
    expect(s.cache_miss).toEqual({ count: 0, ns: 0 });
    // The batch statistics hold the same executions' compute time as the per-request ones for a batch of one.
    const batchOfThree = statsOf(http, 'batched').batch_stats.find((b: Message) => b.batch_size === 3);
    expect(batchOfThree.compute_infer.ns).toBeGreaterThan(0);
  });

  it('reports the microsecond counters from the same nanoseconds', () => {
    const s = statsOf(http, 'batched').inference_stats;
    const us = (name: string) => sampleValue(metrics, name, labels('batched'));
    expect(us('nv_inference_request_duration_us')).toBe(Math.floor(s.success.ns / 1000));
    expect(us('nv_inference_queue_duration_us')).toBe(Math.floor(s.queue.ns / 1000));
    expect(us('nv_inference_compute_input_duration_us')).toBe(Math.floor(s.compute_input.ns / 1000));
    expect(us('nv_inference_compute_infer_duration_us')).toBe(Math.floor(s.compute_infer.ns / 1000));
    expect(us('nv_inference_compute_output_duration_us')).toBe(Math.floor(s.compute_output.ns / 1000));
    expect(metrics.types.get('nv_inference_request_duration_us')).toBe('counter');
    expect(metrics.types.get('nv_inference_pending_request_count')).toBe('gauge');
  });

  it('observes every success in the summaries and the first-response histogram', () => {
    const s = statsOf(http, 'batched').inference_stats;
    expect(metrics.types.get('nv_inference_request_summary_us')).toBe('summary');
    expect(sampleValue(metrics, 'nv_inference_request_summary_us_count', labels('batched'))).toBe(6);
    expect(sampleValue(metrics, 'nv_inference_request_summary_us_sum', labels('batched'))).toBeCloseTo(s.success.ns / 1000, 0);
    expect(sampleValue(metrics, 'nv_inference_queue_summary_us_count', labels('batched'))).toBe(6);
    for (const quantile of ['0.5', '0.9', '0.95', '0.99', '0.999']) {
      expect(sampleValue(metrics, 'nv_inference_compute_infer_summary_us', { ...labels('batched'), quantile })).toBeGreaterThan(0);
    }
    expect(metrics.types.get('nv_inference_first_response_histogram_ms')).toBe('histogram');
    expect(sampleValue(metrics, 'nv_inference_first_response_histogram_ms_count', labels('batched'))).toBe(6);
    expect(sampleValue(metrics, 'nv_inference_first_response_histogram_ms_bucket', { ...labels('batched'), le: '+Inf' })).toBe(6);
  });

  it('answers the same statistics over gRPC as over HTTP', () => {
    expect(grpc.model_stats.map((s: Message) => s.name)).toEqual(['batched', 'bounded']);
    const fromGrpc = statsOf(grpc, 'batched');
    const fromHttp = statsOf(http, 'batched');
    // Both were read after the traffic ended: nothing changed in between.
    expect(fromGrpc.inference_stats).toEqual(fromHttp.inference_stats);
    expect(fromGrpc.batch_stats).toEqual(fromHttp.batch_stats);
    expect([fromGrpc.inference_count, fromGrpc.execution_count, fromGrpc.last_inference]).toEqual([8, 5, fromHttp.last_inference]);
  });

  it('reports the machine CPU and memory', () => {
    const utilization = sampleValue(metrics, 'nv_cpu_utilization');
    expect(utilization).toBeGreaterThanOrEqual(0);
    expect(utilization).toBeLessThanOrEqual(1);
    const total = sampleValue(metrics, 'nv_cpu_memory_total_bytes');
    expect(total).toBeGreaterThan(0);
    expect(sampleValue(metrics, 'nv_cpu_memory_used_bytes')).toBeLessThanOrEqual(total);
  });
});

describe('statistics extension', () => {
  it('answers one model, and one version of it', async () => {
    const model = await getJson(`${t.url}/v2/models/batched/stats`);
    expect(model.status).toBe(200);
    expect(model.json.model_stats.map((s: Message) => [s.name, s.version])).toEqual([['batched', '1']]);
    const version = await getJson(`${t.url}/v2/models/batched/versions/1/stats`);
    expect(version.json).toEqual(model.json);
    const grpc = await client.call('ModelStatistics', { name: 'batched', version: '1' });
    expect(grpc.model_stats.map((s: Message) => [s.name, s.version])).toEqual([['batched', '1']]);
  });

  it("refuses a model or version that is not available, with Triton's messages", async () => {
    const unknown = await getJson(`${t.url}/v2/models/nope/stats`);
    expect(unknown).toEqual({ status: 400, json: { error: "requested model 'nope' is not available" } });
    const version = await getJson(`${t.url}/v2/models/batched/versions/2/stats`);
    expect(version).toEqual({ status: 400, json: { error: "requested model version is not available for model 'batched'" } });
    const grpc = await client.fail('ModelStatistics', { name: 'nope' });
    expect([grpc.code, grpc.details]).toEqual([3, "requested model 'nope' is not available"]);
  });

  it('drops an unloaded model from the statistics and the metrics, and starts a reloaded one afresh', async () => {
    expect((await postJson(`${t.url}/v2/repository/models/bounded/unload`, {})).status).toBe(200);
    expect((await getJson(`${t.url}/v2/models/stats`)).json.model_stats.map((s: Message) => s.name)).toEqual(['batched']);
    expect((await scrape(t.metricsUrl)).samples.filter((s) => s.labels.model === 'bounded')).toEqual([]);
    expect((await postJson(`${t.url}/v2/repository/models/bounded/load`, {})).status).toBe(200);
    expect((await send('bounded', [5])).status).toBe(200);
    const after = await scrape(t.metricsUrl);
    expect(sampleValue(after, 'nv_inference_request_success', labels('bounded'))).toBe(1);
    expect(sampleValue(after, 'nv_inference_request_failure', { ...labels('bounded'), reason: 'REJECTED' })).toBe(0);
    expect(sampleValue(after, 'nv_inference_request_summary_us_count', labels('bounded'))).toBe(1);
  });
});

describe('metrics endpoint', () => {
  it('serves only GET /metrics', async () => {
    const other = await fetch(t.metricsUrl.replace('/metrics', '/v2'));
    expect(other.status).toBe(404);
    const post = await fetch(t.metricsUrl, { method: 'POST' });
    expect(post.status).toBe(405);
    const ok = await fetch(t.metricsUrl);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('is not served with allowMetrics false', async () => {
    const empty = scratchRepository();
    const quiet = await startTestServer({ modelRepositories: [empty.root], allowMetrics: false });
    try {
      expect(quiet.server.metricsPort).toBeUndefined();
    } finally {
      await quiet.server.stop();
      empty.cleanup();
    }
  });
});
