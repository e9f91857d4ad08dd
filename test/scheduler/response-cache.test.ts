import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { responseCacheBytes } from '../../src/cli/serve-command.js';
import { UsageError } from '../../src/cli/flag-parser.js';
import { ResponseCache } from '../../src/scheduler/index.js';
import type { InferenceRequest, InferenceResponse } from '../../src/core/index.js';
import { addJavaScriptModel, record, recorderConfig } from '../helpers/javascript-models.js';
import { scrape, sampleValue } from '../helpers/prometheus-text.js';
import { getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const CACHED = recorderConfig('response_cache { enable: true }');

async function cacheStats(url: string, model: string) {
  const { json } = await getJson(`${url}/v2/models/${model}/stats`);
  const stats = json.model_stats[0];
  return { hit: stats.inference_stats.cache_hit.count, miss: stats.inference_stats.cache_miss.count, success: stats.inference_stats.success.count, executions: stats.execution_count };
}

describe('response cache (--cache-config local,size=BYTES)', () => {
  const repo = scratchRepository();
  let t: TestServer;

  beforeAll(async () => {
    addJavaScriptModel(repo.root, 'cached', CACHED);
    addJavaScriptModel(repo.root, 'uncached', recorderConfig(''));
    t = await startTestServer({ modelRepositories: [repo.root], modelControlMode: 'explicit', loadModels: ['cached', 'uncached'], responseCacheBytes: 1 << 20 });
  });
  afterAll(async () => {
    await t.server.stop();
    repo.cleanup();
  });

  it('answers a repeated request from the cache without executing the model, and counts hits and misses', async () => {
    const first = await record(t.url, 'cached', [1, 2, 3]);
    const again = await record(t.url, 'cached', [1, 2, 3]);
    expect(first.status).toBe(200);
    expect(again).toEqual(first);
    const other = await record(t.url, 'cached', [1, 2, 4]);
    expect(other.execution).toBe(first.execution + 1);
    expect(other.output).toEqual([1, 2, 4]);
    expect(await cacheStats(t.url, 'cached')).toEqual({ hit: 1, miss: 2, success: 3, executions: 2 });
    const metrics = await scrape(t.metricsUrl);
    expect(sampleValue(metrics, 'nv_cache_num_hits_per_model', { model: 'cached', version: '1' })).toBe(1);
    expect(sampleValue(metrics, 'nv_cache_num_misses_per_model', { model: 'cached', version: '1' })).toBe(2);
  });

  it('keys on shape and on the parameters that reach the model, not on the priority', async () => {
    const flat = await record(t.url, 'cached', [7, 8, 9, 10], 1);
    const rows = await record(t.url, 'cached', [7, 8, 9, 10], 2);
    expect(rows.execution).toBe(flat.execution + 1);
    const tagged = await record(t.url, 'cached', [7, 8, 9, 10], 1, { tag: 'a' });
    expect(tagged.execution).toBe(rows.execution + 1);
    const prioritized = await record(t.url, 'cached', [7, 8, 9, 10], 1, { priority: 1 });
    expect(prioritized).toEqual(flat);
  });

  it('never stores an error', async () => {
    const before = await cacheStats(t.url, 'cached');
    const failed = await record(t.url, 'cached', [5], 1, { fail: 'once' });
    const again = await record(t.url, 'cached', [5], 1, { fail: 'once' });
    expect(failed.status).toBe(500);
    expect(again.status).toBe(500);
    const after = await cacheStats(t.url, 'cached');
    expect(after.hit).toBe(before.hit);
    expect(after.miss).toBe(before.miss + 2);
  });

  it('leaves a model without response_cache uncached', async () => {
    const first = await record(t.url, 'uncached', [1]);
    const again = await record(t.url, 'uncached', [1]);
    expect(again.execution).toBe(first.execution + 1);
    expect(await cacheStats(t.url, 'uncached')).toMatchObject({ hit: 0, miss: 0 });
  });

  it('drops the entries of a model when it is reloaded', async () => {
    await record(t.url, 'cached', [42]);
    expect((await record(t.url, 'cached', [42])).status).toBe(200);
    const { status } = await postJson(`${t.url}/v2/repository/models/cached/unload`, {});
    expect(status).toBe(200);
    expect((await postJson(`${t.url}/v2/repository/models/cached/load`, {})).status).toBe(200);
    const fresh = await record(t.url, 'cached', [42]);
    expect(fresh.execution).toBe(1);
    expect(await cacheStats(t.url, 'cached')).toMatchObject({ hit: 0, miss: 1 });
  });
});

describe('response_cache enabled while the server has no cache', () => {
  it('runs the model uncached and reports no nv_cache_* metrics', async () => {
    const repo = scratchRepository();
    addJavaScriptModel(repo.root, 'cached', CACHED);
    const t = await startTestServer({ modelRepositories: [repo.root] });
    try {
      const first = await record(t.url, 'cached', [1]);
      const again = await record(t.url, 'cached', [1]);
      expect(again.execution).toBe(first.execution + 1);
      expect(await cacheStats(t.url, 'cached')).toMatchObject({ hit: 0, miss: 0 });
      const { json } = await getJson(`${t.url}/v2/models/cached/config`);
      expect(json.response_cache).toEqual({ enable: true });
      expect(await (await fetch(t.metricsUrl)).text()).not.toContain('nv_cache_');
    } finally {
      await t.server.stop();
      repo.cleanup();
    }
  });
});

describe('ResponseCache', () => {
  const request = (value: number): InferenceRequest => ({ model: 'm', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 256], data: new Float32Array(256).fill(value) }] });
  const response = (value: number): InferenceResponse => ({ model: 'm', version: '1', outputs: [{ name: 'Y', datatype: 'FP32', shape: [1, 256], data: new Float32Array(256).fill(value) }] });

  it('evicts the least recently used entry to stay within its size', () => {
    const cache = new ResponseCache(3000);
    const keys = [0, 1, 2].map((v) => ResponseCache.key('s', request(v)));
    cache.insert(keys[0], 's', response(0));
    cache.insert(keys[1], 's', response(1));
    expect(cache.lookup(keys[0])).toBeDefined();
    cache.insert(keys[2], 's', response(2));
    expect(cache.lookup(keys[1])).toBeUndefined();
    expect(cache.lookup(keys[0])?.outputs[0].data).toEqual(new Float32Array(256).fill(0));
    expect(cache.lookup(keys[2])).toBeDefined();
    expect(cache.usedBytes).toBeLessThanOrEqual(3000);
  });

  it('stores a copy, so a reused output buffer does not change the cached answer', () => {
    const cache = new ResponseCache(1 << 16);
    const key = ResponseCache.key('s', request(3));
    const answer = response(3);
    cache.insert(key, 's', answer);
    (answer.outputs[0].data as Float32Array).fill(9);
    expect(cache.lookup(key)?.outputs[0].data).toEqual(new Float32Array(256).fill(3));
  });

  it('does not store an answer larger than the whole cache, and keys differ by datatype', () => {
    const cache = new ResponseCache(500);
    cache.insert('k', 's', response(1));
    expect(cache.entryCount).toBe(0);
    const asInt: InferenceRequest = { model: 'm', inputs: [{ name: 'X', datatype: 'INT32', shape: [1, 256], data: new Int32Array(new Float32Array(256).fill(0).buffer) }] };
    expect(ResponseCache.key('s', asInt)).not.toBe(ResponseCache.key('s', request(0)));
  });
});

describe('--cache-config', () => {
  it("takes Triton's local,size=BYTES", () => {
    expect(responseCacheBytes(['local,size=1048576'])).toBe(1048576);
    expect(responseCacheBytes([])).toBeUndefined();
  });

  it('names what is wrong', () => {
    expect(() => responseCacheBytes(['redis,host=x'])).toThrow(UsageError);
    expect(() => responseCacheBytes(['redis,host=x'])).toThrow(/unsupported cache 'redis'/);
    expect(() => responseCacheBytes(['local,size=lots'])).toThrow(/size must be a whole number of bytes, got 'lots'/);
    expect(() => responseCacheBytes(['local,colour=red'])).toThrow(/unknown key 'colour'/);
    expect(() => responseCacheBytes(['local'])).toThrow(/must be '<cache>,<key>=<value>'/);
  });
});
