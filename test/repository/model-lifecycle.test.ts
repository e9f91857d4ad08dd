import { readFileSync, rmSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addModel, EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';
import type { ServerOptions } from '../../src/server/index.js';
import { simpleConfig, simpleRequest } from '../helpers/simple-model.js';

const SIMPLE_JSON_CONFIG = (maxBatchSize: number, dims = 16) =>
  JSON.stringify({
    name: 'simple',
    platform: 'onnxruntime_onnx',
    max_batch_size: maxBatchSize,
    input: ['INPUT0', 'INPUT1'].map((name) => ({ name, data_type: 'TYPE_INT32', dims: [dims] })),
    output: ['OUTPUT0', 'OUTPUT1'].map((name) => ({ name, data_type: 'TYPE_INT32', dims: [dims] })),
  });


const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(options: Partial<ServerOptions>): Promise<{ t: TestServer; root: string }> {
  const { root, cleanup } = scratchRepository();
  cleanups.push(cleanup);
  addModel(root, 'simple', { from: 'simple', config: simpleConfig() });
  addModel(root, 'identity', { from: 'identity_fp32' });
  const t = await startTestServer({ modelRepositories: [root], ...options });
  cleanups.push(() => t.server.stop());
  return { t, root };
}

const index = async (t: TestServer, body: unknown = {}) => (await postJson(`${t.url}/v2/repository/index`, body)).json;
const load = (t: TestServer, name: string, parameters?: Record<string, unknown>) =>
  postJson(`${t.url}/v2/repository/models/${name}/load`, parameters ? { parameters } : {});
const unload = (t: TestServer, name: string) => postJson(`${t.url}/v2/repository/models/${name}/unload`, {});
const infer = (t: TestServer, name = 'simple') => postJson(`${t.url}/v2/models/${name}/infer`, simpleRequest(1, 2));

describe('model control mode none', () => {
  it('lists the repository but refuses load and unload', async () => {
    const { t } = await serve({});
    expect(await index(t)).toEqual([
      { name: 'identity', version: '1', state: 'READY', reason: '' },
      { name: 'simple', version: '1', state: 'READY', reason: '' },
    ]);
    for (const res of [await load(t, 'simple'), await unload(t, 'simple')]) {
      expect(res.status).toBe(503);
      expect(res.json.error).toBe(
        "explicit model load / unload is not allowed if polling is enabled (this server's model control mode is 'none'; start it with --model-control-mode=explicit)",
      );
    }
  });
});

describe('model control mode explicit', () => {
  it('loads only --load-model at start, then loads and unloads on request', async () => {
    const { t } = await serve({ modelControlMode: 'explicit', loadModels: ['simple'] });
    expect(await index(t)).toEqual([
      { name: 'identity', version: '', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'simple', version: '1', state: 'READY', reason: '' },
    ]);
    expect(await index(t, { ready: true })).toEqual([{ name: 'simple', version: '1', state: 'READY', reason: '' }]);
    expect((await infer(t, 'identity')).json.error).toBe("Request for unknown model: 'identity' is not found");

    expect((await load(t, 'identity')).status).toBe(200);
    expect((await fetch(`${t.url}/v2/models/identity/ready`)).status).toBe(200);

    expect((await unload(t, 'simple')).status).toBe(200);
    const gone = await infer(t);
    expect(gone.status).toBe(503);
    expect(gone.json.error).toBe("model 'simple' has no ready version: version 1: unloaded");
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(200);
    expect((await load(t, 'simple')).status).toBe(200);
    expect((await infer(t)).status).toBe(200);
  });

  it("loads every model with --load-model '*'", async () => {
    const { t } = await serve({ modelControlMode: 'explicit', loadModels: ['*'] });
    expect((await index(t, { ready: true })).map((e: { name: string }) => e.name)).toEqual(['identity', 'simple']);
  });

  it('answers bad load and unload requests with the reason', async () => {
    const { t } = await serve({ modelControlMode: 'explicit', loadModels: ['simple'] });
    const cases: Array<[() => Promise<{ status: number; json: any }>, number, string | RegExp]> = [
      [() => load(t, 'nope'), 400, /^failed to load 'nope': no model folder 'nope' in the model repositories/],
      [() => unload(t, 'nope'), 400, "failed to unload 'nope': no such model is loaded"],
      [() => load(t, 'simple', { config: '{"max_batch_size": ' }), 400, /^failed to load 'simple': parameter 'config' is not valid JSON: /],
      [() => load(t, 'simple', { config: '{"max_batch": 4}' }), 400, /^failed to load 'simple': load request config for 'simple': .*max_batch/],
      [() => load(t, 'simple', { config: '{}', 'file:1/model.onnx': 'not base64!' }), 400, "failed to load 'simple': parameter 'file:1/model.onnx': the content is not valid base64"],
      [() => load(t, 'simple', { 'file:1/model.onnx': 'AAAA' }), 400, "failed to load 'simple': file overrides need the 'config' parameter too"],
      [() => load(t, 'simple', { 'file:../x': 'AAAA', config: '{}' }), 400, "failed to load 'simple': parameter 'file:../x': the path must be '<version>/<file>' inside the model folder"],
      [() => load(t, 'simple', { colour: 'blue' }), 400, "failed to load 'simple': parameter 'colour' is not a load parameter (expected 'config' or 'file:<version>/<file>')"],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending();
      expect(res.status, String(message)).toBe(status);
      if (typeof message === 'string') expect(res.json.error).toBe(message);
      else expect(res.json.error).toMatch(message);
    }
    expect((await postJson(`${t.url}/v2/repository/models/simple/load`, '{"parameters": ')).json.error).toMatch(/^failed to parse the request JSON buffer/);
    expect((await getJson(`${t.url}/v2/models/simple/versions/9/ready`)).json.error).toBe("Request for unknown model: 'simple' version 9 is not found");
    expect((await infer(t)).status).toBe(200);
  });

  it('loads a model the repository does not hold from a config and base64 files', async () => {
    const { t } = await serve({ modelControlMode: 'explicit', loadModels: [] });
    const onnx = readFileSync(join(EXAMPLE_REPOSITORY, 'simple', '1', 'model.onnx')).toString('base64');
    const config = SIMPLE_JSON_CONFIG(2).replace('"simple"', '"uploaded"');
    const res = await load(t, 'uploaded', { config, 'file:3/model.onnx': onnx });
    expect(res.status).toBe(200);
    const answer = await infer(t, 'uploaded');
    expect(answer.json.model_version).toBe('3');
    expect((await getJson(`${t.url}/v2/models/uploaded/config`)).json.max_batch_size).toBe(2);
    expect((await unload(t, 'uploaded')).status).toBe(200);
  });

  it('a config override replaces config.pbtxt, and a failed one keeps the old version serving', async () => {
    const { t } = await serve({ modelControlMode: 'explicit', loadModels: ['simple'] });
    expect((await load(t, 'simple', { config: SIMPLE_JSON_CONFIG(3) })).status).toBe(200);
    expect((await getJson(`${t.url}/v2/models/simple/config`)).json.max_batch_size).toBe(3);
    const failed = await load(t, 'simple', { config: SIMPLE_JSON_CONFIG(3, 8) });
    expect(failed.status).toBe(400);
    expect(failed.json.error).toMatch(/^failed to load 'simple': version 1: model 'simple': input 'INPUT0' has shape \[-1,16\] in the model file/);
    expect((await infer(t)).status).toBe(200);
    const entry = (await index(t)).find((e: { name: string }) => e.name === 'simple');
    expect(entry.state).toBe('READY');
    expect(entry.reason).toMatch(/^reload failed, still serving the previous load: /);
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(200);
  });

  it('a model that fails its first load in explicit mode does not make the server unready', async () => {
    const { t, root } = await serve({ modelControlMode: 'explicit', loadModels: ['simple'] });
    addModel(root, 'broken', { from: 'simple', config: simpleConfig('broken').replace('dims: [ 16 ]', 'dims: [ 3 ]') });
    expect((await load(t, 'broken')).status).toBe(400);
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(200);
    expect((await getJson(`${t.url}/v2/models/broken/ready`)).status).toBe(400);
  });
});

describe('reload without dropping a request', () => {
  it('keeps answering through reloads, a failed reload and an unload/load cycle', async () => {
    const { t } = await serve({ modelControlMode: 'explicit', loadModels: ['simple'] });
    let running = true;
    let unloaded = false;
    const failures: string[] = [];
    let answered = 0;
    let refusedWhileUnloaded = 0;
    const client = async () => {
      while (running) {
        const res = await infer(t);
        answered++;
        if (res.status === 200) continue;
        if (unloaded && res.status === 503 && /unloaded|no ready version/.test(res.json.error)) refusedWhileUnloaded++;
        else failures.push(`${res.status} ${JSON.stringify(res.json)}`);
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const settle = () => new Promise((r) => setTimeout(r, 100));
    await settle();
    expect((await load(t, 'simple', { config: SIMPLE_JSON_CONFIG(4) })).status).toBe(200);
    await settle();
    expect((await load(t, 'simple', { config: SIMPLE_JSON_CONFIG(4, 9) })).status).toBe(400);
    await settle();
    expect((await load(t, 'simple')).status).toBe(200);
    await settle();
    unloaded = true;
    expect((await unload(t, 'simple')).status).toBe(200);
    await settle();
    expect((await load(t, 'simple')).status).toBe(200);
    unloaded = false;
    await settle();
    running = false;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(50);
    expect(refusedWhileUnloaded).toBeGreaterThan(0);
  });
});

describe('model control mode poll', () => {
  it('notices added, changed and removed models and versions', async () => {
    const { t, root } = await serve({ modelControlMode: 'poll', repositoryPollSecs: 3600 });
    const poll = () => t.server.registry.poll();

    writeFileSync(join(root, 'simple', 'config.pbtxt'), simpleConfig('simple', 'max_batch_size: 2').replace('max_batch_size: 8\n', ''));
    await poll();
    expect((await getJson(`${t.url}/v2/models/simple/config`)).json.max_batch_size).toBe(2);

    mkdirSync(join(root, 'simple', '2'));
    cpSync(join(root, 'simple', '1', 'model.onnx'), join(root, 'simple', '2', 'model.onnx'));
    await poll();
    expect((await infer(t)).json.model_version).toBe('2');
    expect((await index(t)).filter((e: { name: string }) => e.name === 'simple').map((e: { version: string }) => e.version)).toEqual(['2']);

    addModel(root, 'added', { from: 'simple', config: simpleConfig('added') });
    rmSync(join(root, 'identity'), { recursive: true });
    await poll();
    expect((await infer(t, 'added')).status).toBe(200);
    expect((await index(t)).map((e: { name: string }) => e.name)).toEqual(['added', 'simple']);
    expect((await infer(t, 'identity')).json.error).toBe("Request for unknown model: 'identity' is not found");
  });

  it('polls on its own every --repository-poll-secs', async () => {
    const { t, root } = await serve({ modelControlMode: 'poll', repositoryPollSecs: 1 });
    addModel(root, 'later', { from: 'simple', config: simpleConfig('later') });
    const deadline = Date.now() + 20_000;
    while ((await fetch(`${t.url}/v2/models/later/ready`)).status !== 200) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
