import { afterEach, describe, expect, it } from 'vitest';
import { addModel, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';
import { startServer } from '../../src/server/index.js';
import { simpleConfig, simpleRequest } from '../helpers/simple-model.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function repo(): string {
  const r = scratchRepository();
  cleanups.push(r.cleanup);
  return r.root;
}

async function serve(options: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const t = await startTestServer(options);
  cleanups.push(() => t.server.stop());
  return t;
}

const stateOf = (t: TestServer, name: string) => t.server.registry.index().filter((e) => e.name === name);

describe('repository layout', () => {
  it('serves models from several repositories, and refuses a name found in two of them', async () => {
    const a = repo();
    const b = repo();
    addModel(a, 'simple', { from: 'simple', config: simpleConfig() });
    addModel(b, 'identity', { from: 'identity_fp32' });
    addModel(a, 'twice', { from: 'identity_fp32' });
    addModel(b, 'twice', { from: 'identity_fp32' });
    const t = await serve({ modelRepositories: [a, b] });
    expect((await postJson(`${t.url}/v2/models/simple/infer`, simpleRequest())).status).toBe(200);
    expect((await fetch(`${t.url}/v2/models/identity/ready`)).status).toBe(200);
    const [twice] = stateOf(t, 'twice');
    expect(twice.state).toBe('UNAVAILABLE');
    expect(twice.reason).toMatch(/^model 'twice' appears in more than one model repository: /);
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(400);
    const ready = await getJson(`${t.url}/v2/models/twice/ready`);
    expect(ready.status).toBe(400);
    expect(ready.json.error).toContain('appears in more than one model repository');
  });

  it('honours default_model_filename and reports a missing model file', async () => {
    const r = repo();
    addModel(r, 'simple', { from: 'simple', config: simpleConfig('simple', 'default_model_filename: "net.onnx"'), fileName: 'net.onnx' });
    addModel(r, 'lost', { from: 'simple', config: simpleConfig('simple', 'default_model_filename: "other.onnx"').replace('"simple"', '"lost"') });
    const t = await serve({ modelRepositories: [r] });
    expect((await postJson(`${t.url}/v2/models/simple/infer`, simpleRequest())).status).toBe(200);
    expect(stateOf(t, 'lost')[0].reason).toMatch(/^model file '.*lost\/1\/other\.onnx' not found$/);
  });
});

describe('version policy', () => {
  it('serves the latest version by default and routes unversioned requests to the highest ready one', async () => {
    const r = repo();
    addModel(r, 'simple', { from: 'simple', config: simpleConfig(), versions: [1, 2, 3] });
    const t = await serve({ modelRepositories: [r] });
    expect(stateOf(t, 'simple').map((e) => e.version)).toEqual(['3']);
    const res = await postJson(`${t.url}/v2/models/simple/infer`, simpleRequest());
    expect(res.json.model_version).toBe('3');
    expect((await postJson(`${t.url}/v2/models/simple/versions/1/infer`, simpleRequest())).json.error).toBe(
      "Request for unknown model: 'simple' version 1 is not found",
    );
  });

  it.each([
    ['latest { num_versions: 2 }', ['2', '3']],
    ['all { }', ['1', '2', '3']],
    ['specific { versions: [ 1, 3 ] }', ['1', '3']],
  ])('version_policy: { %s }', async (policy, expected) => {
    const r = repo();
    addModel(r, 'simple', { from: 'simple', config: simpleConfig('simple', `version_policy: { ${policy} }`), versions: [1, 2, 3] });
    const t = await serve({ modelRepositories: [r] });
    expect(stateOf(t, 'simple').map((e) => e.version).sort()).toEqual(expected);
    for (const v of expected) {
      expect((await postJson(`${t.url}/v2/models/simple/versions/${v}/infer`, simpleRequest())).json.model_version).toBe(v);
    }
    expect((await getJson(`${t.url}/v2/models/simple`)).json.versions.sort()).toEqual(expected);
  });
});

describe('auto-complete and validation against the model file', () => {
  it('completes a model without config.pbtxt from the ONNX metadata', async () => {
    const r = repo();
    addModel(r, 'bare', { from: 'simple' });
    const t = await serve({ modelRepositories: [r] });
    const { json } = await getJson(`${t.url}/v2/models/bare/config`);
    expect(json.name).toBe('bare');
    expect(json.platform).toBe('onnxruntime_onnx');
    expect(json.max_batch_size).toBe(4);
    expect(json.input.map((i: any) => [i.name, i.data_type, i.dims])).toEqual([
      ['INPUT0', 'TYPE_INT32', [16]],
      ['INPUT1', 'TYPE_INT32', [16]],
    ]);
    expect((await postJson(`${t.url}/v2/models/bare/infer`, simpleRequest(4))).status).toBe(200);
    expect((await postJson(`${t.url}/v2/models/bare/infer`, simpleRequest(5))).json.error).toBe(
      "inference request batch-size must be <= 4 for 'bare', got 5 in input 'INPUT0'",
    );
  });

  it('completes the inputs and outputs a config leaves out, keeping its max_batch_size', async () => {
    const r = repo();
    addModel(r, 'partial', { from: 'simple', config: 'platform: "onnxruntime_onnx"\nmax_batch_size: 2\n' });
    const t = await serve({ modelRepositories: [r] });
    const { json } = await getJson(`${t.url}/v2/models/partial`);
    expect(json.inputs).toEqual([
      { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] },
      { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] },
    ]);
  });

  it('with --strict-model-config, a model without config.pbtxt is UNAVAILABLE', async () => {
    const r = repo();
    addModel(r, 'bare', { from: 'simple' });
    addModel(r, 'simple', { from: 'simple', config: simpleConfig() });
    const t = await serve({ modelRepositories: [r], strictModelConfig: true });
    expect(stateOf(t, 'bare')[0].reason).toMatch(/config\.pbtxt not found, and --strict-model-config=true requires one$/);
    expect((await postJson(`${t.url}/v2/models/simple/infer`, simpleRequest())).status).toBe(200);
  });

  it('marks each misconfigured model UNAVAILABLE with its reason while the others load', async () => {
    const r = repo();
    addModel(r, 'simple', { from: 'simple', config: simpleConfig() });
    const broken: Record<string, [string, RegExp]> = {
      wrong_name: [simpleConfig().replace('"INPUT1"', '"INPUTX"'), /unexpected inference input 'INPUTX', allowed inputs are: INPUT0, INPUT1/],
      wrong_type: [simpleConfig().replace('TYPE_INT32', 'TYPE_FP32'), /unexpected datatype TYPE_FP32 for input 'INPUT0', the model file has TYPE_INT32/],
      wrong_dims: [simpleConfig().replace('dims: [ 16 ]', 'dims: [ 8 ]'), /input 'INPUT0' has shape \[-1,16\] in the model file but the configuration gives \[-1,8\]/],
      no_batch: [simpleConfig().replace('max_batch_size: 8', 'max_batch_size: 0'), /input 'INPUT0' has shape \[-1,16\] in the model file but the configuration gives \[16\]/],
      bad_syntax: [simpleConfig().replace('max_batch_size: 8', 'max_batch: 8'), /config\.pbtxt:4:1: unknown field 'max_batch' in message ModelConfig/],
      bad_enum: [simpleConfig().replace('TYPE_INT32', 'TYPE_INT33'), /config\.pbtxt:5:.*TYPE_INT33/],
      gpu: [simpleConfig('simple', 'instance_group [ { kind: KIND_GPU } ]'), /asks for KIND_GPU but no GPU is available/],
      mismatched: [simpleConfig().replace('"simple"', '"other"'), /name 'other' does not match the model folder 'mismatched'/],
    };
    for (const [name, [config]] of Object.entries(broken)) {
      addModel(r, name, { from: 'simple', config: config.replace('name: "simple"', `name: "${name}"`) });
    }
    const t = await serve({ modelRepositories: [r] });
    expect((await postJson(`${t.url}/v2/models/simple/infer`, simpleRequest())).status).toBe(200);
    for (const [name, [, reason]] of Object.entries(broken)) {
      const entries = stateOf(t, name);
      expect(entries.every((e) => e.state === 'UNAVAILABLE'), name).toBe(true);
      expect(entries.map((e) => e.reason).join(' '), name).toMatch(reason);
      const res = await postJson(`${t.url}/v2/models/${name}/infer`, simpleRequest());
      expect(res.status, name).toBe(503);
      expect(res.json.error, name).toMatch(reason);
    }
  });
});

describe('readiness and start-up', () => {
  it('reports the server not ready under strict readiness when a model failed, and ready without it', async () => {
    const r = repo();
    addModel(r, 'simple', { from: 'simple', config: simpleConfig() });
    addModel(r, 'broken', { from: 'simple', config: 'max_batch: 1' });
    const strict = await serve({ modelRepositories: [r] });
    expect((await fetch(`${strict.url}/v2/health/ready`)).status).toBe(400);
    expect((await fetch(`${strict.url}/v2/health/live`)).status).toBe(200);
    const relaxed = await serve({ modelRepositories: [r], strictReadiness: false });
    expect((await fetch(`${relaxed.url}/v2/health/ready`)).status).toBe(200);
  });

  it('with --exit-on-error, start-up fails naming every model that failed', async () => {
    const r = repo();
    addModel(r, 'simple', { from: 'simple', config: simpleConfig() });
    addModel(r, 'broken', { from: 'simple', config: 'max_batch: 1' });
    await expect(startServer({ modelRepositories: [r], httpPort: 0, httpAddress: '127.0.0.1', exitOnError: true })).rejects.toThrow(
      /failed to load 1 model\(s\) \(--exit-on-error=true\):\n {2}broken: .*unknown field 'max_batch'/,
    );
  });
});
