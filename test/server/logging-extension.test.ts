/**
 * The logging extension (`GET/POST /v2/logging`, gRPC `LogSettings`) changes what a
 * running server logs: model loads are logged (with model and version) until info
 * lines are switched off, errors still are, and the line format follows the setting.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/index.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { addJavaScriptModel, recorderConfig } from '../helpers/javascript-models.js';
import { getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
const lines: string[] = [];
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  for (const name of ['first', 'second', 'third', 'fourth']) addJavaScriptModel(repo.root, name, recorderConfig('instance_group [{ count: 1, kind: KIND_CPU }]'));
  mkdirSync(join(repo.root, 'broken', '1'), { recursive: true });
  writeFileSync(join(repo.root, 'broken', 'config.pbtxt'), 'backend: "javascript"\nmax_batch: 1\n');
  t = await startTestServer({
    modelRepositories: [repo.root],
    modelControlMode: 'explicit',
    loadModels: ['first'],
    logger: createLogger(0, { write: (text: string) => lines.push(text) }),
  });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
});

/** The lines logged while `action` runs. */
async function logged(action: () => Promise<unknown>): Promise<string[]> {
  const from = lines.length;
  await action();
  return lines.slice(from);
}

const load = (model: string) => postJson(`${t.url}/v2/repository/models/${model}/load`, {});
const messages = (chunk: string[]) => chunk.map((line) => JSON.parse(line)).map((entry) => [entry.msg, entry.model, entry.version]);

describe('logging extension', () => {
  it("reports Triton's settings", async () => {
    expect(await getJson(`${t.url}/v2/logging`)).toEqual({
      status: 200,
      json: { log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'json' },
    });
  });

  it('logs model loads with model and version, until info lines are switched off at run time', async () => {
    expect(messages(lines)).toContainEqual(['loading model', 'first', '1']);
    expect(messages(lines)).toContainEqual(['model ready', 'first', '1']);

    const off = await postJson(`${t.url}/v2/logging`, { log_info: false });
    expect(off.json).toMatchObject({ log_info: false, log_warning: true, log_error: true });
    expect(await logged(() => load('second'))).toEqual([]);
    // Errors are still logged.
    const failure = await logged(() => load('broken'));
    expect(failure.length).toBeGreaterThan(0);
    expect(failure.map((line) => JSON.parse(line).level)).toEqual(failure.map(() => 50));

    await postJson(`${t.url}/v2/logging`, { log_info: true });
    const unload = await logged(() => postJson(`${t.url}/v2/repository/models/second/unload`, {}));
    expect(messages(unload)).toEqual([
      ['unloading model', 'second', '1'],
      ['model unloaded', 'second', '1'],
      ['model unloaded', 'second', undefined],
    ]);
  });

  it("switches to Triton's line format over gRPC", async () => {
    const answer = await client.call('LogSettings', { settings: { log_format: { string_param: 'default' } } });
    expect(answer.settings.log_format).toEqual({ parameter_choice: 'string_param', string_param: 'default' });
    expect(answer.settings.log_info).toMatchObject({ parameter_choice: 'bool_param', bool_param: true });
    expect(answer.settings.log_verbose_level).toMatchObject({ parameter_choice: 'uint32_param', uint32_param: 0 });
    const chunk = await logged(() => load('third'));
    expect(chunk[0]).toMatch(/^I\d{4} \d\d:\d\d:\d\d\.\d{6} \d+ nereid\] loading model model=third version=1\n$/);

    await client.call('LogSettings', { settings: { log_format: { string_param: 'ISO8601' }, log_warning: { bool_param: false } } });
    const iso = await logged(() => load('fourth'));
    expect(iso[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ I \d+ nereid\] loading model model=fourth version=1\n$/);
    expect((await client.call('LogSettings', {})).settings.log_warning.bool_param).toBe(false);
    await postJson(`${t.url}/v2/logging`, { log_format: 'json', log_warning: true });
  });

  it('refuses a log file over the network, and bad values, naming them', async () => {
    expect(await postJson(`${t.url}/v2/logging`, { log_file: '/tmp/elsewhere.log' })).toEqual({
      status: 501,
      json: { error: 'log file location can not be updated through network protocol' },
    });
    expect((await postJson(`${t.url}/v2/logging`, { log_info: 'yes' })).json.error).toBe(`'log_info' must be a boolean, got "yes"`);
    expect((await postJson(`${t.url}/v2/logging`, { log_verbose_level: -1 })).json.error).toBe(`'log_verbose_level' must be a non-negative integer, got -1`);
    expect((await postJson(`${t.url}/v2/logging`, { log_format: 'xml' })).json.error).toBe('invalid argument for --log_format, got: xml (expected default, ISO8601, json)');
    expect((await postJson(`${t.url}/v2/logging`, { log_level: 1 })).status).toBe(400);
    const grpc = await client.fail('LogSettings', { settings: { log_error: { string_param: 'no' } } });
    expect([grpc.code, grpc.details]).toEqual([3, `'log_error' must be a boolean, got "no"`]);
    // Nothing was changed by the refused requests.
    expect((await getJson(`${t.url}/v2/logging`)).json).toMatchObject({ log_file: '', log_info: true, log_error: true, log_verbose_level: 0, log_format: 'json' });
  });
});
