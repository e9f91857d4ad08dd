/**
 * A generate request that gives a key twice is refused, as Triton refuses a repeated input
 * ("input 'X' already exists in request", the first repeated one in the order of the text),
 * instead of JSON.parse's silent "last one wins". Over /generate and /generate_stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repeatedJsonKeys } from '../../src/server/http/repeated-json-keys.js';
import { exampleModels, startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer(exampleModels('repeat_int32', 'simple'));
});
afterAll(async () => {
  await t?.server.stop();
});

async function post(model: string, route: 'generate' | 'generate_stream', text: string) {
  const response = await fetch(`${t.url}/v2/models/${model}/${route}`, { method: 'POST', body: text });
  const body = await response.text();
  return { status: response.status, json: JSON.parse(body) };
}

const ONES = JSON.stringify(Array.from({ length: 16 }, () => 1));

describe('repeated keys in a generate request', () => {
  it("refuses a repeated input with Triton's message, on both routes", async () => {
    const cases: [string, string][] = [
      [`{"INPUT0": ${ONES}, "INPUT1": ${ONES}, "INPUT0": ${ONES}}`, "input 'INPUT0' already exists in request"],
      [`{"INPUT0": ${ONES}, "INPUT1": ${ONES}, "INPUT1": ${ONES}}`, "input 'INPUT1' already exists in request"],
      // Several repeated: the first to repeat, in the order of the text.
      [`{"INPUT0": ${ONES}, "INPUT1": ${ONES}, "INPUT1": ${ONES}, "INPUT0": ${ONES}}`, "input 'INPUT1' already exists in request"],
      [`{"INPUT1": ${ONES}, "INPUT0": ${ONES}, "INPUT0": ${ONES}, "INPUT1": ${ONES}}`, "input 'INPUT0' already exists in request"],
    ];
    for (const [text, error] of cases) {
      for (const route of ['generate', 'generate_stream'] as const) {
        const { status, json } = await post('simple', route, text);
        expect(status, `${route} ${text}`).toBe(400);
        expect(json).toEqual({ error });
      }
    }
  });

  it('refuses repeated parameters, id and parameters objects, naming the key', async () => {
    const request = (extra: string) => `{"IN": [1], "DELAY": [0], "WAIT": 0, ${extra}}`;
    const cases: [string, string][] = [
      [request('"temperature": 1, "temperature": 2'), "parameter 'temperature' is given more than once in the request"],
      [request('"parameters": {"top_k": 1, "top_k": 2}'), "parameter 'top_k' is given more than once in the request's 'parameters'"],
      [request('"id": "a", "id": "b"'), "'id' is given more than once in the request"],
      [request('"parameters": {"a": 1}, "parameters": {"b": 1}'), "'parameters' is given more than once in the request"],
    ];
    for (const [text, error] of cases) {
      const { status, json } = await post('repeat_int32', 'generate_stream', text);
      expect(status, text).toBe(400);
      expect(json).toEqual({ error });
    }
  });

  it('accepts the same key in different objects, and escaped keys that differ', async () => {
    // "temperature" at the top and inside nested values is not a repetition; nor is a key inside a string value.
    const text = `{"IN": [7], "DELAY": [0], "WAIT": 0, "id": "x\\"IN\\": 1", "parameters": {"WAIT": 1, "note": "{\\"IN\\":2}"}, "tag": "IN"}`;
    const response = await fetch(`${t.url}/v2/models/repeat_int32/generate`, { method: 'POST', body: text });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toEqual({ model_name: 'repeat_int32', model_version: '1', id: 'x"IN": 1', OUT: 7, IDX: 0 });
  });
});

describe('repeatedJsonKeys', () => {
  const scan = (text: string) => repeatedJsonKeys(Buffer.from(text));
  it('finds repeated keys at the top level and in parameters only, decoding escapes', () => {
    expect(scan('{"a": 1, "b": {"c": 1, "c": 2}, "a": [{"d": 1, "d": 2}]}')).toEqual({ topLevel: ['a'], parameters: [] });
    expect(scan('{"parameters": {"x": 1, "\\u0078": 2, "y": [1, {"x": 1}]}}')).toEqual({ topLevel: [], parameters: ['x'] });
    expect(scan('{"é": "[{,\\"é\\"", "\\u00e9": 2}')).toEqual({ topLevel: ['é'], parameters: [] });
    expect(scan('{}')).toEqual({ topLevel: [], parameters: [] });
  });
});
