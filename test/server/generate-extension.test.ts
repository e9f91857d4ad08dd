/**
 * Triton's generate extension over real HTTP: `/generate` and `/generate_stream` (Server-
 * Sent Events) for the decoupled repeat_int32 model and a plain ONNX model, with
 * Triton's JSON mapping of inputs, parameters and outputs, and its errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleModels, startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer(exampleModels('repeat_int32', 'simple', 'identity_bytes'));
});
afterAll(async () => {
  await t?.server.stop();
});

async function post(model: string, route: 'generate' | 'generate_stream', body: unknown) {
  const response = await fetch(`${t.url}/v2/models/${model}/${route}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

/** The `data:` events of a Server-Sent Events body, each parsed; fails on anything else in it. */
function events(text: string): unknown[] {
  expect(text.endsWith('\n\n') || text === '').toBe(true);
  return text
    .split('\n\n')
    .filter((chunk) => chunk !== '')
    .map((chunk) => {
      expect(chunk.startsWith('data: ')).toBe(true);
      return JSON.parse(chunk.slice('data: '.length));
    });
}

describe('generate_stream', () => {
  it("streams each of a decoupled model's responses as one event", async () => {
    const { status, contentType, text } = await post('repeat_int32', 'generate_stream', { IN: [4, 5, 6], DELAY: [0, 1, 0], WAIT: 0 });
    expect(status).toBe(200);
    expect(contentType).toBe('text/event-stream; charset=utf-8');
    expect(events(text)).toEqual([4, 5, 6].map((value, i) => ({ model_name: 'repeat_int32', model_version: '1', OUT: value, IDX: i })));
  });

  it('answers an empty stream for a model that sends only its final flag', async () => {
    const { status, text } = await post('repeat_int32', 'generate_stream', { IN: [], DELAY: [], WAIT: 0 });
    expect(status).toBe(200);
    expect(events(text)).toEqual([]);
  });

  it("sends the model's error as an event, with the first event's status", async () => {
    const { status, contentType, text } = await post('repeat_int32', 'generate_stream', { IN: [1, 2], DELAY: [0], WAIT: 0 });
    expect(status).toBe(500);
    expect(contentType).toBe('text/event-stream; charset=utf-8');
    expect(events(text)).toEqual([{ error: expect.stringContaining('expected IN and DELAY shape to match, got [2] and [1]') }]);
  });

  it('streams the one answer of a model that is not decoupled, outputs of many elements as arrays', async () => {
    const a = Array.from({ length: 16 }, (_, i) => i);
    const b = Array.from({ length: 16 }, () => 1);
    const { status, text } = await post('simple', 'generate_stream', { INPUT0: a, INPUT1: b });
    expect(status).toBe(200);
    expect(events(text)).toEqual([{ model_name: 'simple', model_version: '1', OUTPUT0: a.map((v) => v + 1), OUTPUT1: a.map((v) => v - 1) }]);
  });
});

describe('generate', () => {
  it("answers a decoupled model's single response as one JSON object, strings as strings", async () => {
    const { status, contentType, text } = await post('repeat_int32', 'generate', { IN: [7], DELAY: [0], WAIT: 0, id: 'r1' });
    expect(status).toBe(200);
    expect(contentType).toBe('application/json');
    expect(JSON.parse(text)).toEqual({ model_name: 'repeat_int32', model_version: '1', id: 'r1', OUT: 7, IDX: 0 });
    const bytes = await post('identity_bytes', 'generate', { INPUT0: 'hello world' });
    expect(JSON.parse(bytes.text)).toMatchObject({ OUTPUT0: 'hello world' });
  });

  it('refuses zero or many responses with Triton\'s message, as JSON', async () => {
    for (const values of [[], [1, 2]]) {
      const { status, contentType, text } = await post('repeat_int32', 'generate', { IN: values, DELAY: values.map(() => 0), WAIT: 0 });
      expect(status).toBe(400);
      expect(contentType).toBe('application/json');
      expect(JSON.parse(text).error).toBe('generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses');
    }
  });
});

describe('bad generate requests', () => {
  it('answers each with a JSON error naming what was wrong, before any event', async () => {
    const cases: [string, unknown, number, string | RegExp][] = [
      ['repeat_int32', { IN: [1], DELAY: [0], WAIT: 0, PARAMS: { a: 1 } }, 400, "parameter 'PARAMS' has invalid type"],
      ['repeat_int32', { IN: [1], DELAY: [0], WAIT: 0, parameters: 1 }, 400, "'parameters' must be a JSON object"],
      ['repeat_int32', { IN: [1], DELAY: [0], WAIT: 0, parameters: { deep: [1] } }, 400, "parameter 'deep' has invalid type"],
      ['repeat_int32', { IN: { USER: 1 }, DELAY: [0], WAIT: 0 }, 400, "input 'IN': a generate request gives an input as a string, number or boolean"],
      ['repeat_int32', { IN: [[1, 2]], DELAY: [0], WAIT: 0 }, 400, "input 'IN': a generate request gives an input as a string, number or boolean"],
      ['repeat_int32', { IN: ['one'], DELAY: [0], WAIT: 0 }, 400, /input 'IN'/],
      ['repeat_int32', { IN: [1], DELAY: [0] }, 400, /WAIT/],
      ['repeat_int32', '{"IN": [1', 400, /failed to parse the request JSON buffer/],
      ['no_such_model', { IN: [1] }, 400, "Request for unknown model: 'no_such_model' is not found"],
    ];
    for (const route of ['generate', 'generate_stream'] as const) {
      for (const [model, body, expectedStatus, message] of cases) {
        const { status, contentType, text } = await post(model, route, body);
        expect(status, `${route} ${JSON.stringify(body)}`).toBe(expectedStatus);
        expect(contentType).toBe('application/json');
        const { error } = JSON.parse(text);
        if (typeof message === 'string') expect(error).toContain(message);
        else expect(error).toMatch(message);
      }
    }
    // The server goes on serving.
    expect((await post('repeat_int32', 'generate', { IN: [3], DELAY: [0], WAIT: 0 })).status).toBe(200);
  });
});
