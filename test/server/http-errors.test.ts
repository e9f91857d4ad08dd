import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORE_EXAMPLE_MODELS, exampleModels, getJson, postJson, startTestServer, type TestServer } from '../helpers/test-server.js';
import { int32Sum } from '../helpers/reference-models.js';

let t: TestServer;
const MAX_INPUT = 64 * 1024;

beforeAll(async () => {
  t = await startTestServer({ ...exampleModels(...CORE_EXAMPLE_MODELS), httpMaxInputSize: MAX_INPUT });
});
afterAll(async () => {
  await t.server.stop();
});

const ints = (n: number, base = 0) => Array.from({ length: n }, (_, i) => base + i);
const simpleInput = (name: string, overrides: Record<string, unknown> = {}) => ({
  name,
  datatype: 'INT32',
  shape: [1, 16],
  data: ints(16),
  ...overrides,
});

async function expectError(path: string, body: unknown, status: number, message: string | RegExp): Promise<void> {
  const res = await postJson(`${t.url}${path}`, body);
  expect(res.status).toBe(status);
  expect(Object.keys(res.json)).toEqual(['error']);
  if (typeof message === 'string') expect(res.json.error).toBe(message);
  else expect(res.json.error).toMatch(message);
}

describe('malformed inference requests', () => {
  const infer = '/v2/models/simple/infer';

  it('rejects JSON that does not parse', async () => {
    await expectError(infer, '{"inputs": [', 400, /^failed to parse the request JSON buffer: /);
  });

  it('rejects a body that is not an object or has no inputs', async () => {
    await expectError(infer, '[1,2]', 400, 'the request body must be a JSON object');
    await expectError(infer, {}, 400, "'inputs' must be a non-empty array");
    await expectError(infer, { inputs: [] }, 400, "'inputs' must be a non-empty array");
    await expectError(infer, { id: 5, inputs: [simpleInput('INPUT0')] }, 400, "'id' must be a string");
  });

  it('names an unknown input and a missing one', async () => {
    await expectError(infer, { inputs: [simpleInput('INPUT0'), simpleInput('INPUT9')] }, 400, "unexpected inference input 'INPUT9' for model 'simple'");
    await expectError(
      infer,
      { inputs: [simpleInput('INPUT0')] },
      400,
      "expected 2 inputs but got 1 inputs for model 'simple'; missing required input(s) 'INPUT1'",
    );
  });

  it('names a wrong or unknown datatype', async () => {
    await expectError(
      infer,
      { inputs: [simpleInput('INPUT0', { datatype: 'FP32' }), simpleInput('INPUT1')] },
      400,
      "inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'",
    );
    await expectError(infer, { inputs: [simpleInput('INPUT0', { datatype: 'FLOAT' })] }, 400, "input 'INPUT0': unknown datatype 'FLOAT'");
  });

  it('checks the number of values against the shape', async () => {
    await expectError(
      infer,
      { inputs: [simpleInput('INPUT0', { data: ints(15) }), simpleInput('INPUT1')] },
      400,
      "input 'INPUT0': expected 16 values for shape [1,16], got 15",
    );
  });

  it('checks the shape against the configuration and the batch size limit', async () => {
    await expectError(
      infer,
      { inputs: [simpleInput('INPUT0', { shape: [1, 8], data: ints(8) }), simpleInput('INPUT1')] },
      400,
      "unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,8]",
    );
    await expectError(
      infer,
      { inputs: [simpleInput('INPUT0', { shape: [9, 16], data: ints(144) }), simpleInput('INPUT1', { shape: [9, 16], data: ints(144) })] },
      400,
      "inference request batch-size must be <= 8 for 'simple', got 9 in input 'INPUT0'",
    );
    await expectError(infer, { inputs: [simpleInput('INPUT0', { shape: [1, -16] })] }, 400, "input 'INPUT0': 'shape' must be an array of non-negative integers");
  });

  it('range-checks values for the datatype, naming the position', async () => {
    const data = ints(16);
    data[3] = 2 ** 31;
    await expectError(
      infer,
      { inputs: [simpleInput('INPUT0', { data }), simpleInput('INPUT1')] },
      400,
      "input 'INPUT0': value 2147483648 at position 3 is not an integer in [-2147483648, 2147483647] as INT32 requires",
    );
    const fractional = ints(16);
    fractional[5] = 1.5;
    await expectError(
      infer,
      { inputs: [simpleInput('INPUT0'), simpleInput('INPUT1', { data: fractional })] },
      400,
      "input 'INPUT1': value 1.5 at position 5 is not an integer in [-2147483648, 2147483647] as INT32 requires",
    );
    await expectError(
      '/v2/models/add_sub/infer',
      { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1, 'x'] }] },
      400,
      'input \'INPUT0\': value "x" at position 1 is not a number as FP32 requires',
    );
  });

  it('names an unknown requested output', async () => {
    await expectError(
      infer,
      { inputs: [simpleInput('INPUT0'), simpleInput('INPUT1')], outputs: [{ name: 'OUTPUT7' }] },
      400,
      "unexpected inference output 'OUTPUT7' for model 'simple'",
    );
  });

  it('answers an unknown model and version as Triton does', async () => {
    await expectError('/v2/models/nope/infer', { inputs: [simpleInput('INPUT0')] }, 400, "Request for unknown model: 'nope' is not found");
    await expectError('/v2/models/simple/versions/4/infer', { inputs: [simpleInput('INPUT0')] }, 400, "Request for unknown model: 'simple' version 4 is not found");
    expect((await getJson(`${t.url}/v2/models/nope`)).json).toEqual({ error: "Request for unknown model: 'nope' is not found" });
    expect((await fetch(`${t.url}/v2/models/nope/ready`)).status).toBe(400);
  });

  it('refuses a body over --http-max-input-size', async () => {
    const big = ints(MAX_INPUT);
    const res = await postJson(`${t.url}${infer}`, { inputs: [simpleInput('INPUT0', { data: big })] });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(new RegExp(`^request body of \\d+ bytes exceeds the maximum of ${MAX_INPUT} bytes \\(--http-max-input-size\\)$`));
  });

  it('answers an unknown endpoint with 404', async () => {
    const res = await getJson(`${t.url}/v2/nothing/here`);
    expect(res.status).toBe(404);
    expect(res.json.error).toBe('no such endpoint: GET /v2/nothing/here');
  });

  it('keeps serving good requests while bad ones arrive concurrently', async () => {
    const a = ints(16, 5);
    const b = ints(16, 100);
    const good = () =>
      postJson(`${t.url}${infer}`, {
        inputs: [simpleInput('INPUT0', { data: a }), simpleInput('INPUT1', { data: b })],
      });
    const bad = [
      '{"inputs": [',
      { inputs: [simpleInput('INPUT0', { data: ints(3) }), simpleInput('INPUT1')] },
      { inputs: [simpleInput('INPUT0', { datatype: 'BOOL' }), simpleInput('INPUT1')] },
      { inputs: [simpleInput('INPUT0', { data: ints(MAX_INPUT) })] },
    ];
    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? good() : postJson(`${t.url}${infer}`, bad[(i >> 1) % bad.length]))),
    );
    results.forEach((res, i) => {
      if (i % 2 === 0) {
        expect(res.status).toBe(200);
        expect(res.json.outputs[0].data).toEqual(int32Sum(a, b));
      } else {
        expect(res.status).toBe(400);
        expect(typeof res.json.error).toBe('string');
      }
    });
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(200);
  });
});
