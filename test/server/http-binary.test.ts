/** Triton's binary tensor data extension and compressed bodies over HTTP. */
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync, deflateSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, packStrings, parseBinaryAnswer, postBinary, unpackStrings } from '../helpers/binary-http.js';
import { addModel, EXAMPLE_REPOSITORY, getJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const MAX_INPUT = 1024 * 1024;
let t: TestServer;
let scratch: ReturnType<typeof scratchRepository>;
let simple: string;

beforeAll(async () => {
  scratch = scratchRepository();
  for (const name of ['simple', 'identity_fp32', 'identity_bytes']) {
    addModel(scratch.root, name, { from: name, config: readFileSync(join(EXAMPLE_REPOSITORY, name, 'config.pbtxt'), 'utf8') });
  }
  t = await startTestServer({ modelRepositories: [scratch.root], httpMaxInputSize: MAX_INPUT, allowGrpc: false });
  simple = `${t.url}/v2/models/simple/infer`;
});

afterAll(async () => {
  await t.server.stop();
  scratch.cleanup();
});

const a = Int32Array.from({ length: 16 }, (_, i) => i * 3 - 20);
const b = Int32Array.from({ length: 16 }, (_, i) => 1000 - i);
const sum = Array.from(a, (x, i) => x + b[i]);
const difference = Array.from(a, (x, i) => x - b[i]);
const int32Input = (name: string, extra: object) => ({ name, datatype: 'INT32', shape: [1, 16], ...extra });
const binaryInput = (name: string, size = 64) => int32Input(name, { parameters: { binary_data_size: size } });

/** A POST through node:http, which (unlike fetch) leaves Content-Encoding of the answer alone. */
function rawPost(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-length': String(body.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers as Record<string, string>, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('binary requests and responses', () => {
  it('mixes binary and JSON inputs, and binary and JSON outputs, in one request', async () => {
    const answer = await postBinary(
      simple,
      {
        id: 'mixed',
        inputs: [binaryInput('INPUT0'), int32Input('INPUT1', { data: Array.from(b) })],
        outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1' }],
      },
      [bytesOf(a)],
    );
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/octet-stream');
    expect(Number(answer.headers.get('inference-header-content-length'))).toBe(Buffer.byteLength(JSON.stringify(answer.json)));
    expect(answer.json).toEqual({
      model_name: 'simple',
      model_version: '1',
      id: 'mixed',
      outputs: [
        { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
        { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], data: difference },
      ],
    });
    expect(Array.from(new Int32Array(new Uint8Array(answer.outputs.get('OUTPUT0')!).buffer))).toEqual(sum);
    expect(answer.binary.length).toBe(64);
  });

  it('answers every output in binary with binary_data_output, unless an output says binary_data: false', async () => {
    const all = await postBinary(simple, { inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')], parameters: { binary_data_output: true } }, [bytesOf(a), bytesOf(b)]);
    expect(all.status).toBe(200);
    expect(all.json.outputs.map((o: { parameters: object }) => o.parameters)).toEqual([{ binary_data_size: 64 }, { binary_data_size: 64 }]);
    expect(Array.from(new Int32Array(new Uint8Array(all.outputs.get('OUTPUT1')!).buffer))).toEqual(difference);

    const some = await postBinary(
      simple,
      { inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')], outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT1', parameters: { binary_data: false } }], parameters: { binary_data_output: true } },
      [bytesOf(a), bytesOf(b)],
    );
    expect(some.json.outputs[0].parameters).toEqual({ binary_data_size: 64 });
    expect(some.json.outputs[1].data).toEqual(difference);
  });

  it('answers plain JSON when no output is binary', async () => {
    const res = await fetch(simple, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(Buffer.byteLength(JSON.stringify({ inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')] }))) },
      body: Buffer.concat([Buffer.from(JSON.stringify({ inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')] })), bytesOf(a), bytesOf(b)]),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('inference-header-content-length')).toBeNull();
    expect((await res.json()).outputs[0].data).toEqual(sum);
  });

  it('carries BYTES as length-prefixed elements both ways', async () => {
    const strings = ['', 'nereid', 'héllo', '🌊'.repeat(50)];
    const raw = packStrings(strings);
    const answer = await postBinary(
      `${t.url}/v2/models/identity_bytes/infer`,
      { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], parameters: { binary_data_size: raw.length } }], parameters: { binary_data_output: true } },
      [raw],
    );
    expect(answer.status).toBe(200);
    expect(answer.outputs.get('OUTPUT0')!.equals(raw)).toBe(true);
    expect(unpackStrings(answer.outputs.get('OUTPUT0')!).map(String)).toEqual(strings);
  });

  it('moves a 600 KB FP32 tensor (1x3x224x224) through identity_fp32 unchanged', async () => {
    const image = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 100);
    const answer = await postBinary(
      `${t.url}/v2/models/identity_fp32/infer`,
      { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, image.length], parameters: { binary_data_size: image.byteLength } }], parameters: { binary_data_output: true } },
      [bytesOf(image)],
    );
    expect(answer.status).toBe(200);
    expect(answer.outputs.get('OUTPUT0')!.equals(bytesOf(image))).toBe(true);
  });
});

describe('sizes that disagree are 400s with the numbers', () => {
  const expectError = async (answerPromise: Promise<{ status: number; json: any }>, message: string) => {
    const answer = await answerPromise;
    expect(answer.json.error).toBe(message);
    expect(answer.status).toBe(400);
  };

  it('an Inference-Header-Content-Length beyond the body, or not a number', async () => {
    const body = Buffer.from(JSON.stringify({ inputs: [int32Input('INPUT0', { data: Array.from(a) })] }));
    for (const value of [String(body.length + 1), 'twelve', '-5']) {
      const res = await fetch(simple, { method: 'POST', headers: { 'inference-header-content-length': value }, body });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toBe(`Inference-Header-Content-Length must be a byte count within the ${body.length}-byte request body, got '${value}'`);
    }
  });

  it('binary data shorter than binary_data_size says how many bytes are missing', async () => {
    const header = { inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')] };
    const headerLength = Buffer.byteLength(JSON.stringify(header));
    await expectError(
      postBinary(simple, header, [bytesOf(a), bytesOf(b).subarray(0, 40)]),
      `unexpected size for input 'INPUT1', expecting 24 additional bytes for model 'simple': its binary_data_size is 64 but only 40 bytes of binary data remain (body of ${headerLength + 104} bytes, JSON header of ${headerLength} bytes)`,
    );
  });

  it('a binary_data_size that does not fit the shape', async () => {
    await expectError(
      postBinary(simple, { inputs: [binaryInput('INPUT0', 60), binaryInput('INPUT1')] }, [bytesOf(a).subarray(0, 60), bytesOf(b)]),
      "input 'INPUT0': raw content of 60 bytes does not match shape [1,16] of INT32, which needs 64 bytes",
    );
  });

  it('bytes left over after the last binary input', async () => {
    const header = { inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')] };
    const headerLength = Buffer.byteLength(JSON.stringify(header));
    await expectError(
      postBinary(simple, header, [bytesOf(a), bytesOf(b), Buffer.from([1, 2, 3, 4])]),
      `unexpected additional input data for model 'simple': 4 bytes follow the last binary input (body of ${headerLength + 132} bytes, JSON header of ${headerLength} bytes, binary inputs of 128 bytes)`,
    );
  });

  it('a BYTES element whose length runs past the end of its input, without reading beyond it', async () => {
    const raw = packStrings(['ok', 'truncated']);
    raw.writeUInt32LE(1_000_000, 6);
    await expectError(
      postBinary(
        `${t.url}/v2/models/identity_bytes/infer`,
        { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 2], parameters: { binary_data_size: raw.length } }] },
        [raw, Buffer.from('trailing bytes of no input')],
      ),
      "input 'INPUT0': raw BYTES element 1 declares 1000000 bytes but only 9 remain",
    );
  });

  it('an input with both data and binary_data_size, or with neither', async () => {
    await expectError(
      postBinary(simple, { inputs: [int32Input('INPUT0', { data: Array.from(a), parameters: { binary_data_size: 64 } }), binaryInput('INPUT1')] }, [bytesOf(a), bytesOf(b)]),
      "input 'INPUT0': Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', 'shared_memory_region' in 'parameters'. But set 'data' 'binary_data_size'",
    );
    await expectError(
      postBinary(simple, { inputs: [int32Input('INPUT0', {}), binaryInput('INPUT1')] }, [bytesOf(b)]),
      "input 'INPUT0': Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', 'shared_memory_region' in 'parameters'. But no field is set",
    );
  });

  it('parameters of the wrong type', async () => {
    await expectError(
      postBinary(simple, { inputs: [binaryInput('INPUT0', -4), binaryInput('INPUT1')] }, [bytesOf(a), bytesOf(b)]),
      "input 'INPUT0': parameter 'binary_data_size' must be a non-negative integer, got -4",
    );
    await expectError(
      postBinary(simple, { inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')], outputs: [{ name: 'OUTPUT0', parameters: { binary_data: 'yes' } }] }, [bytesOf(a), bytesOf(b)]),
      "output 'OUTPUT0': parameter 'binary_data' must be a boolean",
    );
    await expectError(
      postBinary(simple, { inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')], parameters: { binary_data_output: 1 } }, [bytesOf(a), bytesOf(b)]),
      "request: parameter 'binary_data_output' must be a boolean",
    );
  });
});

describe('compressed bodies', () => {
  const header = { inputs: [binaryInput('INPUT0'), binaryInput('INPUT1')], parameters: { binary_data_output: true } };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const plainBody = Buffer.concat([headerBytes, bytesOf(a), bytesOf(b)]);
  const binaryHeaders = { 'inference-header-content-length': String(headerBytes.length) };

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const)('inflates a %s request body; Inference-Header-Content-Length counts inflated bytes', async (coding, compress) => {
    const res = await rawPost(simple, compress(plainBody), { ...binaryHeaders, 'content-encoding': coding });
    expect(res.status).toBe(200);
    const answer = parseBinaryAnswer(res.status, new Headers(res.headers), res.body);
    expect(Array.from(new Int32Array(new Uint8Array(answer.outputs.get('OUTPUT0')!).buffer))).toEqual(sum);
  });

  it.each([
    ['gzip', 'gzip', gunzipSync],
    ['deflate', 'deflate', inflateSync],
    ['deflate;q=0.5, gzip;q=0.8, identity;q=0.1', 'gzip', gunzipSync],
  ] as const)('answers Accept-Encoding: %s with %s', async (accept, coding, decompress) => {
    const res = await rawPost(simple, plainBody, { ...binaryHeaders, 'accept-encoding': accept });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe(coding);
    const answer = parseBinaryAnswer(res.status, new Headers(res.headers), decompress(res.body));
    expect(Array.from(new Int32Array(new Uint8Array(answer.outputs.get('OUTPUT1')!).buffer))).toEqual(difference);
  });

  it('leaves the answer uncompressed for identity or an unknown coding', async () => {
    for (const accept of ['identity', 'br']) {
      const res = await rawPost(simple, plainBody, { ...binaryHeaders, 'accept-encoding': accept });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBeUndefined();
    }
  });

  it('refuses an unknown coding, a corrupt body and one that inflates past --http-max-input-size', async () => {
    const unknown = await rawPost(simple, plainBody, { ...binaryHeaders, 'content-encoding': 'br' });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body.toString()).error).toBe("unsupported Content-Encoding 'br': send the body as gzip, deflate or identity");

    const corrupt = await rawPost(simple, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect(JSON.parse(corrupt.body.toString()).error).toMatch(/^failed to decompress the gzip request body: /);

    const bomb = await rawPost(simple, gzipSync(Buffer.alloc(MAX_INPUT + 1)), { 'content-encoding': 'gzip' });
    expect(bomb.status).toBe(400);
    expect(JSON.parse(bomb.body.toString()).error).toBe(`request body inflates to more than the maximum of ${MAX_INPUT} bytes (--http-max-input-size)`);
  });

  it('still serves after all of the above', async () => {
    expect((await getJson(`${t.url}/v2/models/simple/ready`)).status).toBe(200);
  });
});
