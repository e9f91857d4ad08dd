/**
 * The trace extension (`/v2/trace/setting`, `/v2/models/{m}/trace/setting`, gRPC
 * `TraceSetting`): enabling tracing at run time makes requests leave Triton's JSON
 * trace records in the trace file, with timestamps that agree with the statistics.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRACE_SETTINGS } from '../../src/metrics/index.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { addJavaScriptModel, record, recorderConfig, waitFor } from '../helpers/javascript-models.js';
import { getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const ONE_INSTANCE = 'instance_group [{ count: 1, kind: KIND_CPU }]';
const TIMESTAMP_NAMES = ['REQUEST_START', 'QUEUE_START', 'COMPUTE_START', 'COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START', 'COMPUTE_END', 'REQUEST_END'];

interface Trace {
  id: number;
  model_name: string;
  model_version: number;
  request_id?: string;
  timestamps: Array<{ name: string; ns: number }>;
}

/** A trace file's records, merged per trace id as Triton's trace tools read them. */
function traces(path: string): Trace[] {
  const byId = new Map<number, Trace>();
  for (const entry of JSON.parse(readFileSync(path, 'utf8')) as Array<Record<string, unknown>>) {
    const id = entry.id as number;
    byId.set(id, { ...(byId.get(id) ?? { id, timestamps: [] }), ...entry } as Trace);
  }
  return [...byId.values()];
}

const span = (trace: Trace, from: string, to: string) => {
  const at = (name: string) => trace.timestamps.find((s) => s.name === name)!.ns;
  return at(to) - at(from);
};

const repo = scratchRepository();
const traceFile = join(repo.root, 'trace.json');
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  for (const name of ['echo', 'other']) addJavaScriptModel(repo.root, name, recorderConfig(`${ONE_INSTANCE}\ndynamic_batching { }`));
  t = await startTestServer({ modelRepositories: [repo.root], trace: { ...DEFAULT_TRACE_SETTINGS, file: traceFile } });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
});

const send = (model: string, id: string) =>
  postJson(`${t.url}/v2/models/${model}/infer`, { id, inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 2], data: [1, 2] }] });

describe('trace extension', () => {
  it("reports Triton's settings, tracing nothing by default", async () => {
    expect(await getJson(`${t.url}/v2/trace/setting`)).toEqual({
      status: 200,
      json: { trace_level: ['OFF'], trace_rate: '1000', trace_count: '-1', log_frequency: '0', trace_file: traceFile, trace_mode: 'triton' },
    });
    for (let k = 0; k < 3; k++) expect((await send('echo', `off-${k}`)).status).toBe(200);
  });

  it('writes trace records once tracing is switched on, with timestamps that agree with the statistics', async () => {
    const on = await postJson(`${t.url}/v2/trace/setting`, { trace_level: ['TIMESTAMPS'], trace_rate: '1', log_frequency: '2' });
    expect(on.json).toMatchObject({ trace_level: ['TIMESTAMPS'], trace_rate: '1', log_frequency: '2', trace_count: '-1' });
    const stats = t.server.registry.resolve('echo').statistics;
    const before = { queue: { ...stats.queue }, computeInfer: { ...stats.computeInfer }, success: { ...stats.success } };
    for (let k = 0; k < 4; k++) expect((await send('echo', `req-${k}`)).status).toBe(200);
    const after = stats;

    await waitFor(() => existsSync(`${traceFile}.1`), 'the second trace file');
    const written = [...traces(`${traceFile}.0`), ...traces(`${traceFile}.1`)];
    expect(existsSync(traceFile)).toBe(false);
    expect(written.map((trace) => [trace.model_name, trace.model_version, trace.request_id])).toEqual([0, 1, 2, 3].map((k) => ['echo', 1, `req-${k}`]));
    expect(new Set(written.map((trace) => trace.id)).size).toBe(4);
    for (const trace of written) {
      expect(trace.timestamps.map((s) => s.name)).toEqual(TIMESTAMP_NAMES);
      const ns = trace.timestamps.map((s) => s.ns);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
      expect(ns.every(Number.isInteger)).toBe(true);
    }
    // Each trace's queue and compute spans are the very durations the statistics added (to a few ns of rounding).
    const total = (from: string, to: string) => written.reduce((sum, trace) => sum + span(trace, from, to), 0);
    expect(Math.abs(total('QUEUE_START', 'COMPUTE_START') - (after.queue.ns - before.queue.ns))).toBeLessThan(10);
    expect(Math.abs(total('COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START') - (after.computeInfer.ns - before.computeInfer.ns))).toBeLessThan(10);
    expect(total('QUEUE_START', 'REQUEST_END')).toBeLessThanOrEqual(after.success.ns - before.success.ns + 10);
  });

  it('lets a model override the global settings, and follow them again when cleared', async () => {
    const off = await postJson(`${t.url}/v2/models/other/trace/setting`, { trace_level: ['OFF'] });
    expect(off.json.trace_level).toEqual(['OFF']);
    expect((await getJson(`${t.url}/v2/trace/setting`)).json.trace_level).toEqual(['TIMESTAMPS']);
    expect((await getJson(`${t.url}/v2/models/echo/trace/setting`)).json.trace_level).toEqual(['TIMESTAMPS']);
    // Two traces of 'echo' fill the next file; the requests to 'other' between them are not traced.
    await send('echo', 'e-1');
    await send('other', 'o-1');
    await send('other', 'o-2');
    await send('echo', 'e-2');
    await waitFor(() => existsSync(`${traceFile}.2`), 'the third trace file');
    expect(traces(`${traceFile}.2`).map((trace) => trace.request_id)).toEqual(['e-1', 'e-2']);

    const cleared = await client.call('TraceSetting', { model_name: 'other', settings: { trace_level: { value: [] } } });
    expect(cleared.settings.trace_level.value).toEqual(['TIMESTAMPS']);
    await send('other', 'o-3');
    await send('echo', 'e-3');
    await waitFor(() => existsSync(`${traceFile}.3`), 'the fourth trace file');
    expect(traces(`${traceFile}.3`).map((trace) => [trace.model_name, trace.request_id])).toEqual([
      ['other', 'o-3'],
      ['echo', 'e-3'],
    ]);
  });

  it('stops after trace_count traces, and answers the count left', async () => {
    const counted = await client.call('TraceSetting', { settings: { trace_count: { value: ['1'] }, log_frequency: { value: ['1'] } } });
    expect(counted.settings.trace_count.value).toEqual(['1']);
    for (let k = 0; k < 3; k++) await send('echo', `c-${k}`);
    await waitFor(() => existsSync(`${traceFile}.4`), 'the fifth trace file');
    expect(traces(`${traceFile}.4`).map((trace) => trace.request_id)).toEqual(['c-0']);
    expect(existsSync(`${traceFile}.5`)).toBe(false);
    expect((await getJson(`${t.url}/v2/trace/setting`)).json.trace_count).toBe('0');
  });

  it("refuses a trace file over the network and settings it cannot honour, with Triton's messages", async () => {
    const refused = (path: string, body: unknown) => postJson(`${t.url}${path}`, body);
    expect(await refused('/v2/trace/setting', { trace_file: '/tmp/elsewhere.json' })).toEqual({
      status: 501,
      json: { error: 'trace file location can not be updated through network protocol' },
    });
    expect((await refused('/v2/trace/setting', { trace_level: ['TENSORS'] })).status).toBe(501);
    expect((await refused('/v2/trace/setting', { trace_level: ['OFF', 'TIMESTAMPS'] })).json.error).toBe("Expect only one trace level 'OFF' is specified");
    expect((await refused('/v2/trace/setting', { trace_rate: 'often' })).json.error).toBe("Unable to parse 'trace_rate', got: often");
    expect((await refused('/v2/trace/setting', { trace_count: '-2' })).json.error).toBe("Unable to parse 'trace_count', value is out of range [ -1, 2147483647 ], got: -2");
    expect(await refused('/v2/models/nope/trace/setting', {})).toEqual({ status: 400, json: { error: 'Request for unknown model : nope' } });
    const grpc = await client.fail('TraceSetting', { model_name: 'nope', settings: {} });
    expect([grpc.code, grpc.details]).toEqual([3, 'Request for unknown model : nope']);
    expect((await getJson(`${t.url}/v2/trace/setting`)).json).toMatchObject({ trace_level: ['TIMESTAMPS'], trace_rate: '1', trace_file: traceFile });
  });
});

describe('trace file at shutdown', () => {
  it('writes every trace to the trace file itself when log_frequency is 0', async () => {
    const local = scratchRepository();
    addJavaScriptModel(local.root, 'echo', recorderConfig(ONE_INSTANCE));
    const file = join(local.root, 'all.json');
    const server = await startTestServer({ modelRepositories: [local.root], trace: { ...DEFAULT_TRACE_SETTINGS, level: 'TIMESTAMPS', rate: 2, file } });
    try {
      for (let k = 0; k < 5; k++) expect((await record(server.url, 'echo', [k])).status).toBe(200);
      expect(existsSync(file)).toBe(false);
    } finally {
      await server.server.stop();
    }
    // Every second request: the 2nd and the 4th.
    expect(traces(file).map((trace) => trace.timestamps.length)).toEqual([7, 7]);
    local.cleanup();
  });
});
