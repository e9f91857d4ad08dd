/**
 * What Triton's own HTTP end-to-end tests pin down and Nereid once answered differently:
 * raw binary bodies (`Inference-Header-Content-Length: 0`), element counts that overflow,
 * duplicate requested outputs, JSON nesting depth, not-ready models whatever the body,
 * bodies over the size limit answered rather than reset, chunked request bodies, and
 * BYTES that come back byte for byte.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packStrings, parseBinaryAnswer, postBinary, unpackStrings } from '../helpers/binary-http.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { addModel, EXAMPLE_REPOSITORY, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const MAX_INPUT = 1 << 20;

let t: TestServer;
let grpc: InferenceClient;
const repository = scratchRepository();

function identityConfig(name: string, options: { backend: string; type: string; maxBatchSize: number; dims: string }): string {
  const kind = options.backend === 'javascript' ? 'backend: "javascript"' : 'platform: "onnxruntime_onnx"';
  return `name: "${name}"\n${kind}\nmax_batch_size: ${options.maxBatchSize}
input [ { name: "INPUT0" data_type: ${options.type} dims: ${options.dims} } ]
output [ { name: "OUTPUT0" data_type: ${options.type} dims: ${options.dims} } ]\n`;
}

function addJavaScriptIdentity(name: string, dims: string, maxBatchSize: number): void {
  mkdirSync(join(repository.root, name, '1'), { recursive: true });
  cpSync(join(EXAMPLE_REPOSITORY, 'simple_identity', '1', 'model.js'), join(repository.root, name, '1', 'model.js'));
  writeFileSync(join(repository.root, name, 'config.pbtxt'), identityConfig(name, { backend: 'javascript', type: 'TYPE_STRING', maxBatchSize, dims }));
}

beforeAll(async () => {
  for (const name of ['identity_fp32', 'add_sub', 'simple_identity']) cpSync(join(EXAMPLE_REPOSITORY, name), join(repository.root, name), { recursive: true });
  // Triton's onnx_zero_1_float16 has two variable-sized dimensions.
  addModel(repository.root, 'two_variable_dims', {
    from: 'identity_fp32',
    config: identityConfig('two_variable_dims', { backend: 'onnxruntime', type: 'TYPE_FP32', maxBatchSize: 0, dims: '[ -1, -1 ]' }),
  });
  addModel(repository.root, 'fixed_four', {
    from: 'identity_fp32',
    config: identityConfig('fixed_four', { backend: 'onnxruntime', type: 'TYPE_FP32', maxBatchSize: 0, dims: '[ 1, 4 ]' }),
  });
  addJavaScriptIdentity('one_string', '[ 1 ]', 0);
  addModel(repository.root, 'broken', { from: 'identity_fp32', config: 'name: "broken"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 3\n' });
  writeFileSync(join(repository.root, 'broken', '1', 'model.onnx'), 'not an onnx file');
  t = await startTestServer({ modelRepositories: [repository.root], httpMaxInputSize: MAX_INPUT });
  grpc = new InferenceClient(t.grpcTarget);
});

afterAll(async () => {
  grpc?.close();
  await t?.server.stop();
  repository.cleanup();
});

async function postRaw(model: string, body: Uint8Array): Promise<ReturnType<typeof parseBinaryAnswer> | { status: number; error: string }> {
  const res = await fetch(`${t.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'inference-header-content-length': '0' },
    body: new Uint8Array(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { status: res.status, error: JSON.parse(bytes.toString()).error };
  return parseBinaryAnswer(res.status, res.headers, bytes);
}

function floatBytes(count: number): Buffer {
  const values = Float32Array.from({ length: count }, (_, k) => k * 1.5);
  return Buffer.from(values.buffer);
}

describe('raw binary requests (Inference-Header-Content-Length: 0)', () => {
  it('deduce the one variable dimension and answer every output in binary', async () => {
    for (const count of [8, 32]) {
      const answer = (await postRaw('identity_fp32', floatBytes(count))) as ReturnType<typeof parseBinaryAnswer>;
      expect(answer.status).toBe(200);
      expect(answer.json.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'FP32', shape: [1, count] });
      expect(answer.outputs.get('OUTPUT0')).toEqual(floatBytes(count));
    }
  });

  it('take a fixed shape as configured, without a batch dimension for a model that does not batch', async () => {
    const answer = (await postRaw('fixed_four', floatBytes(4))) as ReturnType<typeof parseBinaryAnswer>;
    expect(answer.json.outputs[0].shape).toEqual([1, 4]);
    expect(answer.outputs.get('OUTPUT0')).toEqual(floatBytes(4));
    expect(await postRaw('fixed_four', floatBytes(5))).toEqual({
      status: 400,
      error: "raw input 'INPUT0': raw content of 20 bytes does not match shape [1,4] of FP32, which needs 16 bytes",
    });
  });

  it('send a BYTES body as the one element, byte for byte', async () => {
    const body = Buffer.from([0x34, 0x32, 0x00, 0x37, 0xff, 0xfe]);
    const answer = (await postRaw('one_string', body)) as ReturnType<typeof parseBinaryAnswer>;
    expect(answer.status).toBe(200);
    expect(unpackStrings(answer.outputs.get('OUTPUT0')!)).toEqual([body]);
  });

  it("refuse with Triton's sentences what cannot be deduced", async () => {
    expect(await postRaw('add_sub', floatBytes(32))).toEqual({
      status: 400,
      error: "Raw request must only have 1 input (found 1) to be deduced but got 2 inputs in 'add_sub' model configuration",
    });
    expect(await postRaw('two_variable_dims', floatBytes(4))).toEqual({
      status: 400,
      error: "The shape of the raw input 'INPUT0' can not be deduced because there are more than one variable-sized dimension",
    });
    expect(await postRaw('simple_identity', Buffer.from('427'))).toEqual({
      status: 400,
      error: "For BYTE datatype raw input 'INPUT0', the model must have input shape [1] (model 'simple_identity' has [-1])",
    });
    expect(await postRaw('identity_fp32', Buffer.alloc(6))).toEqual({
      status: 400,
      error: "raw input 'INPUT0': 6 bytes do not fill shape [1,-1] of FP32 (a multiple of 4 bytes is needed)",
    });
  });

  it('answer 503 for a model that is not ready, whatever the body', async () => {
    const raw = (await postRaw('broken', floatBytes(4))) as { status: number; error: string };
    expect(raw.status).toBe(503);
    expect(raw.error).toMatch(/^model 'broken' has no ready version/);
    const json = await postJson(`${t.url}/v2/models/broken/infer`, '{"inputs": [');
    expect(json.status).toBe(503);
  });
});

describe('shapes whose element count overflows', () => {
  const overflow = { name: 'INPUT0', datatype: 'FP32', shape: [2 ** 4, 2 ** 60 + 2], data: [1] };
  const byteOverflow = { name: 'INPUT0', datatype: 'FP32', shape: [2 ** 2, 2 ** 60 + 2], data: [1] };

  it('are refused with 400 over HTTP, as Triton words it', async () => {
    const count = await postJson(`${t.url}/v2/models/identity_fp32/infer`, { inputs: [overflow] });
    expect(count.status).toBe(400);
    expect(count.json.error).toContain('causes total element count to exceed maximum size of 9223372036854775807');
    const bytes = await postJson(`${t.url}/v2/models/identity_fp32/infer`, { inputs: [byteOverflow] });
    expect(bytes.status).toBe(400);
    expect(bytes.json.error).toMatch(/^byte size overflow for input 'INPUT0'/);
    // Counts that fit 64 bits but no buffer, in JSON, binary and BYTES forms: 400, never 500.
    for (const [datatype, shape] of [['FP32', [2 ** 31, 2 ** 31]], ['BYTES', [2 ** 20, 2 ** 20]], ['UINT8', [2 ** 40]]] as const) {
      const json = await postJson(`${t.url}/v2/models/identity_fp32/infer`, { inputs: [{ name: 'INPUT0', datatype, shape, data: [1] }] });
      expect(json.status, `${datatype} ${shape}`).toBe(400);
      const binary = await postBinary(
        `${t.url}/v2/models/identity_fp32/infer`,
        { inputs: [{ name: 'INPUT0', datatype, shape, parameters: { binary_data_size: 8 } }] },
        [Buffer.alloc(8)],
      );
      expect(binary.status, `${datatype} ${shape} binary`).toBe(400);
    }
  });

  it('are refused with INVALID_ARGUMENT over gRPC', async () => {
    const error = await grpc.fail('ModelInfer', {
      model_name: 'identity_fp32',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2 ** 31, 2 ** 31, 2 ** 31] }],
      raw_input_contents: [Buffer.alloc(4)],
    });
    expect(error.code).toBe(3);
    expect(error.details).toContain('causes total element count to exceed maximum size of');
    const contents = await grpc.fail('ModelInfer', {
      model_name: 'simple_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2 ** 20, 2 ** 20], contents: { bytes_contents: [Buffer.from('a')] } }],
    });
    expect(contents.code).toBe(3);
  });
});

describe('requested outputs', () => {
  it('may not name the same output twice', async () => {
    const body = {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1, 2] }],
      outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }],
    };
    const http = await postJson(`${t.url}/v2/models/identity_fp32/infer`, body);
    expect(http).toEqual({ status: 400, json: { error: "output 'OUTPUT0' is requested more than once for model 'identity_fp32'" } });
    const error = await grpc.fail('ModelInfer', {
      model_name: 'identity_fp32',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1, 2] } }],
      outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }],
    });
    expect([error.code, error.details]).toEqual([3, "output 'OUTPUT0' is requested more than once for model 'identity_fp32'"]);
  });
});

describe('JSON nesting', () => {
  const nested = (depth: number, value: unknown): unknown => (depth === 0 ? value : [nested(depth - 1, value)]);

  it("stops at Triton's limit of 100 levels", async () => {
    for (const [datatype, value] of [['BYTES', 'hello'], ['FP32', 123]] as const) {
      const model = datatype === 'BYTES' ? 'simple_identity' : 'identity_fp32';
      const body = (depth: number) => ({ inputs: [{ name: 'INPUT0', datatype, shape: [1, 1], data: nested(depth, value) }] });
      expect((await postJson(`${t.url}/v2/models/${model}/infer`, body(50))).status).toBe(200);
      const deep = await postJson(`${t.url}/v2/models/${model}/infer`, body(120));
      expect(deep).toEqual({ status: 400, json: { error: "input 'INPUT0': JSON nesting depth exceeds maximum allowed limit (100)" } });
    }
    // Far deeper than any stack: still a 400.
    const text = `{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1],"data":${'['.repeat(200_000)}1${']'.repeat(200_000)}}]}`;
    expect((await postJson(`${t.url}/v2/models/identity_fp32/infer`, text)).status).toBe(400);
  });

  it("answers a nested 'ready' in the repository index with Triton's sentence", async () => {
    const res = await postJson(`${t.url}/v2/repository/index`, { ready: nested(50, true) });
    expect(res).toEqual({ status: 400, json: { error: "Invalid value for 'ready': expected a boolean" } });
  });
});

/** Sends `request` on a fresh connection and resolves with everything the server wrote until it closed or `until` matched. */
function exchange(request: Buffer | Buffer[], until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(t.server.httpPort!, '127.0.0.1');
    let received = '';
    socket.on('data', (data) => {
      received += data.toString('latin1');
      if (until.test(received)) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    const parts = Array.isArray(request) ? request : [request];
    parts.forEach((part, k) => setTimeout(() => socket.write(part), k * 20));
  });
}

describe('request bodies', () => {
  it('over --http-max-input-size are read to the end and answered, not reset', async () => {
    // Like Python's requests: the whole body is written before the answer is read, and a
    // write that fails (the server closed early) loses the answer.
    const size = MAX_INPUT * 32;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(t.server.httpPort!, '127.0.0.1');
      let received = '';
      socket.on('data', (data) => (received += data.toString()));
      socket.on('error', reject);
      socket.on('end', () => resolve(received));
      socket.write(`POST /v2/repository/models/huge/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
      const piece = Buffer.alloc(MAX_INPUT, 0x41);
      for (let k = 0; k < 32; k++) socket.write(piece);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain(`request body of ${size} bytes exceeds the maximum of ${MAX_INPUT} bytes (--http-max-input-size)`);
  });

  it('sent chunked work, in one piece or split across packets, with trailers', async () => {
    const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }));
    const head = Buffer.from(`POST /v2/models/identity_fp32/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n`);
    const chunk = (bytes: Buffer) => Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
    const whole = Buffer.concat([head, chunk(json.subarray(0, 10)), chunk(json.subarray(10)), Buffer.from('0\r\n\r\n')]);
    const expectAnswer = (answer: string) => {
      expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(answer).toContain('"data":[1,2,3]');
    };
    expectAnswer(await exchange(whole, /\]\}\]\}$/));
    expectAnswer(await exchange([whole.subarray(0, head.length + 7), whole.subarray(head.length + 7, whole.length - 3), whole.subarray(whole.length - 3)], /\]\}\]\}$/));
    const trailer = Buffer.concat([head, chunk(json), Buffer.from('0\r\nX-Checksum: 1\r\n\r\n')]);
    expectAnswer(await exchange(trailer, /\]\}\]\}$/));
  });
});

describe('BYTES through simple_identity', () => {
  // NUL bytes, bytes that are not UTF-8, an empty element.
  const elements = [Buffer.from('a\u0000b'), Buffer.from([0xff, 0x00, 0xc3]), Buffer.alloc(0), Buffer.from('✓')];

  it('come back byte for byte over HTTP binary', async () => {
    const raw = packStrings(elements);
    const answer = await postBinary(
      `${t.url}/v2/models/simple_identity/infer`,
      { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], parameters: { binary_data_size: raw.length } }], parameters: { binary_data_output: true } },
      [raw],
    );
    expect(answer.status).toBe(200);
    expect(unpackStrings(answer.outputs.get('OUTPUT0')!)).toEqual(elements);
  });

  it('come back byte for byte over gRPC, from raw and from bytes_contents', async () => {
    const fromRaw = await grpc.call('ModelInfer', {
      model_name: 'simple_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4] }],
      raw_input_contents: [packStrings(elements)],
    });
    expect(unpackStrings(fromRaw.raw_output_contents[0])).toEqual(elements);
    const fromContents = await grpc.call('ModelInfer', {
      model_name: 'simple_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], contents: { bytes_contents: elements } }],
    });
    expect(unpackStrings(fromContents.raw_output_contents[0])).toEqual(elements);
  });
});

describe('the server after all of this', () => {
  it('still answers a good request', async () => {
    const res = await postJson(`${t.url}/v2/models/identity_fp32/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
    expect(res.status).toBe(200);
    expect(res.json.outputs[0].data).toEqual([1, 2]);
  });
});
