/** The JavaScript backend: model.js / model.mjs in a worker per instance, its contract and its failures. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addJavaScriptModel, recorderConfig } from '../helpers/javascript-models.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const STRINGS_CONFIG = `backend: "javascript"
max_batch_size: 0
input [{ name: "TEXT", data_type: TYPE_STRING, dims: [ -1 ] }]
output [
  { name: "UPPER", data_type: TYPE_STRING, dims: [ -1 ] },
  { name: "LENGTHS", data_type: TYPE_INT64, dims: [ -1 ] },
  { name: "FLAGS", data_type: TYPE_BOOL, dims: [ -1 ] }
]
instance_group [{ count: 1, kind: KIND_CPU }]
`;

// An .mjs model without batching: BYTES in, BYTES, INT64 and BOOL out from plain arrays.
const STRINGS_MODEL = `
const decoder = new TextDecoder();
let prefix = '';
export function initialize(args) {
  prefix = args.config.parameters.prefix.string_value + ':' + args.modelName + ':';
}
export function execute(requests) {
  return requests.map(({ inputs, parameters }) => {
    const texts = inputs.TEXT.data.map((bytes) => decoder.decode(bytes));
    if (parameters.wrong_type) return { outputs: { UPPER: { datatype: 'FP32', shape: [1], data: [1] } } };
    return {
      outputs: {
        UPPER: { shape: inputs.TEXT.shape, data: texts.map((s) => prefix + s.toUpperCase()) },
        LENGTHS: { shape: inputs.TEXT.shape, data: texts.map((s) => s.length) },
        FLAGS: { shape: inputs.TEXT.shape, data: texts.map((s) => s.length > 2) },
      },
    };
  });
}
`;

const BROKEN_MODELS: Record<string, [string, RegExp]> = {
  no_execute: ['export function initialize() {}', /model\.js does not export an execute\(requests\) function$/],
  bad_initialize: ['export function initialize() { throw new Error("no weights"); }\nexport function execute() { return []; }', /model\.js: initialize\(\) failed: no weights$/],
  syntax: ['export function execute( {', /model\.js: cannot load the module: /],
};

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  addJavaScriptModel(repo.root, 'strings', STRINGS_CONFIG.replace('instance_group', 'parameters { key: "prefix" value: { string_value: "p" } }\ninstance_group'), {
    source: STRINGS_MODEL,
    fileName: 'model.mjs',
  });
  addJavaScriptModel(repo.root, 'throws', recorderConfig(''), { source: 'export function execute() { throw new Error("out of cheese"); }' });
  addJavaScriptModel(repo.root, 'short', recorderConfig(''), { source: 'export function execute(requests) { return requests.slice(1); }' });
  addJavaScriptModel(
    repo.root,
    'finalized',
    recorderConfig(`instance_group [{ count: 1, kind: KIND_CPU }]\nparameters { key: "finalize_marker" value: { string_value: "${join(repo.root, 'finalized-marker')}" } }`),
  );
  for (const [name, [source]] of Object.entries(BROKEN_MODELS)) addJavaScriptModel(repo.root, name, recorderConfig(''), { source });
  t = await startTestServer({ modelRepositories: [repo.root] });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

const one = (values: number[]) => ({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, values.length], data: values }] });

describe('JavaScript backend', () => {
  it('runs an .mjs model with BYTES inputs and converts plain arrays to the configured output types', async () => {
    const { status, json } = await postJson(`${t.url}/v2/models/strings/infer`, {
      inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [3], data: ['ab', 'cdé', ''] }],
    });
    expect(status).toBe(200);
    expect(json.outputs).toEqual([
      { name: 'UPPER', datatype: 'BYTES', shape: [3], data: ['p:strings:AB', 'p:strings:CDÉ', 'p:strings:'] },
      { name: 'LENGTHS', datatype: 'INT64', shape: [3], data: [2, 3, 0] },
      { name: 'FLAGS', datatype: 'BOOL', shape: [3], data: [false, true, false] },
    ]);
  });

  it('answers a request whose response does not match the configuration with a precise error', async () => {
    const { status, json } = await postJson(`${t.url}/v2/models/strings/infer`, {
      inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [1], data: ['x'] }],
      outputs: [{ name: 'UPPER' }],
      parameters: { wrong_type: true },
    });
    expect(status).toBe(500);
    expect(json.error).toBe("model 'strings' version 1 failed: model.js response 0: output 'UPPER' has datatype FP32 but the configuration says BYTES");
  });

  it('fails every request of a batch whose execute() throws, and keeps serving', async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const { status, json } = await postJson(`${t.url}/v2/models/throws/infer`, one([1]));
      expect(status).toBe(500);
      expect(json.error).toBe("model 'throws' version 1 failed: model.js execute() failed: out of cheese");
    }
  });

  it('fails the requests of an execute() that returns the wrong number of responses', async () => {
    const { status, json } = await postJson(`${t.url}/v2/models/short/infer`, one([1]));
    expect(status).toBe(500);
    expect(json.error).toBe(
      "model 'short' version 1 failed: model.js execute() returned an array of 0 for 1 request(s); it must return one response per request",
    );
  });

  it('marks a model whose module cannot serve UNAVAILABLE with the reason', () => {
    const index = t.server.registry.index();
    for (const [name, [, reason]] of Object.entries(BROKEN_MODELS)) {
      const entry = index.find((e) => e.name === name)!;
      expect(entry.state, name).toBe('UNAVAILABLE');
      expect(entry.reason, name).toMatch(reason);
    }
  });

  it('calls finalize() when the model is unloaded', async () => {
    expect((await postJson(`${t.url}/v2/models/finalized/infer`, one([4]))).status).toBe(200);
    await t.server.registry.find('finalized').unload();
    const marker = join(repo.root, 'finalized-marker.finalized_0_0');
    expect(existsSync(marker)).toBe(true);
    expect(readFileSync(marker, 'utf8')).toBe('1');
  });
});
