/** Triton's system shared memory extension over HTTP and gRPC, with real POSIX shared-memory objects. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packStrings, unpackStrings } from '../helpers/binary-http.js';
import { grpc, InferenceClient, rawBytes } from '../helpers/grpc-client.js';
import { addJavaScriptModel, Gate, recorderConfig } from '../helpers/javascript-models.js';
import { SharedMemoryObject } from '../helpers/posix-shared-memory.js';
import { addModel, EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const { status } = grpc;
let t: TestServer;
let client: InferenceClient;
let scratch: ReturnType<typeof scratchRepository>;
let gates: string;
const objects: SharedMemoryObject[] = [];

beforeAll(async () => {
  scratch = scratchRepository();
  for (const name of ['simple', 'identity_bytes']) {
    addModel(scratch.root, name, { from: name, config: readFileSync(join(EXAMPLE_REPOSITORY, name, 'config.pbtxt'), 'utf8') });
  }
  addJavaScriptModel(scratch.root, 'gated', recorderConfig(''));
  gates = mkdtempSync(join(tmpdir(), 'nereid-gates-'));
  t = await startTestServer({ modelRepositories: [scratch.root], allowClientShm: true });
  client = new InferenceClient(t.grpcTarget);
});

afterAll(async () => {
  client.close();
  await t.server.stop();
  for (const object of objects) object.unlink();
  scratch.cleanup();
  rmSync(gates, { recursive: true, force: true });
});

afterEach(async () => {
  await postJson(`${t.url}/v2/systemsharedmemory/unregister`, {});
});

function shm(byteSize: number): SharedMemoryObject {
  const object = new SharedMemoryObject(byteSize);
  objects.push(object);
  return object;
}

const register = (name: string, body: object) => postJson(`${t.url}/v2/systemsharedmemory/region/${name}/register`, body);
const infer = (model: string, body: object | string) => postJson(`${t.url}/v2/models/${model}/infer`, body);

const a = Int32Array.from({ length: 16 }, (_, i) => i * 7 - 50);
const b = Int32Array.from({ length: 16 }, (_, i) => 1 << i);
const sum = Array.from(a, (x, i) => x + b[i]);
const difference = Array.from(a, (x, i) => x - b[i]);
const int32s = (bytes: Buffer) => Array.from(new Int32Array(new Uint8Array(bytes).buffer));
const shmParameters = (region: string, offset: number, byteSize = 64) => ({
  shared_memory_region: region,
  shared_memory_offset: offset,
  shared_memory_byte_size: byteSize,
});
const shmInput = (name: string, region: string, offset: number, byteSize = 64) => ({
  name,
  datatype: 'INT32',
  shape: [1, 16],
  parameters: shmParameters(region, offset, byteSize),
});

describe('registering regions over HTTP', () => {
  it('registers, describes and unregisters regions as Triton does', async () => {
    const object = shm(4096);
    expect((await register('images', { key: object.key, offset: 0, byte_size: 4096 })).status).toBe(200);
    expect((await register('tail', { key: object.key, offset: 100, byte_size: 50 })).status).toBe(200);
    expect((await getJson(`${t.url}/v2/systemsharedmemory/status`)).json).toEqual([
      { name: 'images', key: object.key, offset: 0, byte_size: 4096 },
      { name: 'tail', key: object.key, offset: 100, byte_size: 50 },
    ]);
    expect((await getJson(`${t.url}/v2/systemsharedmemory/region/tail/status`)).json).toEqual([{ name: 'tail', key: object.key, offset: 100, byte_size: 50 }]);
    expect((await postJson(`${t.url}/v2/systemsharedmemory/region/images/unregister`, {})).status).toBe(200);
    expect((await getJson(`${t.url}/v2/systemsharedmemory/status`)).json).toEqual([{ name: 'tail', key: object.key, offset: 100, byte_size: 50 }]);
    // As in Triton, unregistering a name that is not registered succeeds.
    expect((await postJson(`${t.url}/v2/systemsharedmemory/region/images/unregister`, {})).status).toBe(200);
    expect((await postJson(`${t.url}/v2/systemsharedmemory/unregister`, {})).status).toBe(200);
    expect((await getJson(`${t.url}/v2/systemsharedmemory/status`)).json).toEqual([]);
  });

  it('refuses what cannot be registered, with the reason', async () => {
    const object = shm(4096);
    const refused = async (name: string, body: object, code: number, message: string) => {
      const { status: httpStatus, json } = await register(name, body);
      expect(json.error).toBe(message);
      expect(httpStatus).toBe(code);
    };
    await refused('r', { key: '/nereid-no-such-key', byte_size: 16 }, 500, "Unable to open shared memory region: '/nereid-no-such-key': No such file or directory");
    await refused('r', { key: object.key, offset: 4000, byte_size: 200 }, 400, `failed to register shared memory region 'r': invalid args - offset 4000 + byte_size 200 = 4200 runs past the end of '${object.key}', which is 4096 bytes`);
    await refused('r', { key: object.key, byte_size: 0 }, 400, "failed to register shared memory region 'r': invalid args - byte_size must be positive");
    for (const key of ['/', '///']) await refused('r', { key, byte_size: 16 }, 400, `cannot register shared memory region 'r' - invalid shm key '${key}'`);
    for (const key of ['triton_python_backend_shm_region_1', '//triton_python_backend_shm_region_x']) {
      await refused('r', { key, byte_size: 16 }, 400, `cannot register shared memory region 'r' with key '${key}' as the key contains the reserved prefix 'triton_python_backend_shm_region_'`);
    }
    await refused('r', { offset: 0, byte_size: 16 }, 400, "Shared memory register request has no 'key' field");
    await refused('r', { key: object.key }, 400, "Shared memory register request has no 'byte_size' field");
    await refused('r', { key: object.key, byte_size: -1 }, 400, "Shared memory register request: 'byte_size' must be a non-negative integer, got -1");
    expect((await register('r', { key: object.key, byte_size: 16 })).status).toBe(200);
    await refused('r', { key: object.key, byte_size: 16 }, 400, "shared memory region 'r' already in manager");
    const unknown = await getJson(`${t.url}/v2/systemsharedmemory/region/nope/status`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe("Unable to find system shared memory region: 'nope'");
  });
});

describe('inference through shared memory over HTTP', () => {
  it('reads inputs from a region and writes outputs into it, answering their shapes without data', async () => {
    const object = shm(4096);
    object.write(0, a);
    object.write(64, b);
    await register('io', { key: object.key, byte_size: 4096 });
    const { status: httpStatus, json } = await infer('simple', {
      inputs: [shmInput('INPUT0', 'io', 0), shmInput('INPUT1', 'io', 64)],
      outputs: [
        { name: 'OUTPUT0', parameters: shmParameters('io', 128) },
        { name: 'OUTPUT1', parameters: shmParameters('io', 192) },
      ],
    });
    expect(httpStatus).toBe(200);
    expect(json.outputs).toEqual([
      { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16] },
      { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16] },
    ]);
    expect(int32s(object.read(128, 64))).toEqual(sum);
    expect(int32s(object.read(192, 64))).toEqual(difference);
  });

  it('mixes shared-memory and JSON inputs and outputs, in a region that starts inside a page', async () => {
    const object = shm(8192);
    object.write(5000 + 8, a);
    await register('unaligned', { key: object.key, offset: 5000, byte_size: 1000 });
    const { status: httpStatus, json } = await infer('simple', {
      inputs: [shmInput('INPUT0', 'unaligned', 8), { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array.from(b) }],
      outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT1', parameters: shmParameters('unaligned', 200) }],
    });
    expect(httpStatus).toBe(200);
    expect(json.outputs[0].data).toEqual(sum);
    expect(json.outputs[1].data).toBeUndefined();
    expect(int32s(object.read(5200, 64))).toEqual(difference);
  });

  it('carries BYTES as length-prefixed elements', async () => {
    const strings = ['', 'shared', 'mémoire ✓'];
    const packed = packStrings(strings);
    const object = shm(1024);
    object.write(0, packed);
    await register('text', { key: object.key, byte_size: 1024 });
    const { status: httpStatus, json } = await infer('identity_bytes', {
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 3], parameters: shmParameters('text', 0, packed.length) }],
      outputs: [{ name: 'OUTPUT0', parameters: shmParameters('text', 512, 512) }],
    });
    expect(httpStatus).toBe(200);
    expect(unpackStrings(object.read(512, packed.length)).map(String)).toEqual(strings);
  });
});

describe('bad references: clear errors, no out-of-bounds access, no crash', () => {
  const expectError = async (body: object, code: number, message: string, model = 'simple') => {
    const { status: httpStatus, json } = await infer(model, body);
    expect(json.error).toBe(message);
    expect(httpStatus).toBe(code);
  };
  const withOutputs = (inputs: object[], outputs?: object[]) => (outputs ? { inputs, outputs } : { inputs });

  it('an unknown region', async () => {
    await expectError(withOutputs([shmInput('INPUT0', 'nope', 0), shmInput('INPUT1', 'nope', 64)]), 404, "input 'INPUT0': Unable to find shared memory region: 'nope'");
  });

  it('an offset or a size beyond the region', async () => {
    const object = shm(4096);
    await register('small', { key: object.key, byte_size: 100 });
    await expectError(
      withOutputs([shmInput('INPUT0', 'small', 100), shmInput('INPUT1', 'small', 0)]),
      400,
      "input 'INPUT0': Invalid offset for shared memory region: 'small': offset 100 is not inside the 100-byte region",
    );
    await expectError(
      withOutputs([shmInput('INPUT0', 'small', 0), shmInput('INPUT1', 'small', 50)]),
      400,
      "input 'INPUT1': Invalid offset + byte size for shared memory region: 'small': offset 50 + byte size 64 = 114 runs past the 100-byte region",
    );
    await expectError(
      withOutputs([shmInput('INPUT0', 'small', 0, 60), shmInput('INPUT1', 'small', 0)]),
      400,
      "input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60: shape [1,16] of INT32 needs 64 bytes, shared_memory_byte_size is 60",
    );
    await expectError(
      withOutputs([shmInput('INPUT0', 'small', 0), shmInput('INPUT1', 'small', 0)], [{ name: 'OUTPUT0', parameters: shmParameters('small', 64) }]),
      400,
      "output 'OUTPUT0': Invalid offset + byte size for shared memory region: 'small': offset 64 + byte size 64 = 128 runs past the 100-byte region",
    );
  });

  it('an output region too small for the output', async () => {
    const object = shm(4096);
    await register('r', { key: object.key, byte_size: 4096 });
    await expectError(
      withOutputs([shmInput('INPUT0', 'r', 0), shmInput('INPUT1', 'r', 0)], [{ name: 'OUTPUT0', parameters: shmParameters('r', 1024, 32) }]),
      400,
      "shared memory size specified with the request for output 'OUTPUT0' (32 bytes) should be at least 64 bytes to hold the results",
    );
    expect(int32s(object.read(1024, 64))).toEqual(new Array(16).fill(0));
  });

  it('an object the client shrank after registering it', async () => {
    const object = shm(4096);
    await register('shrunk', { key: object.key, byte_size: 4096 });
    object.shrink(100);
    await expectError(
      withOutputs([shmInput('INPUT0', 'shrunk', 0), shmInput('INPUT1', 'shrunk', 1024)]),
      400,
      `input 'INPUT1': shared memory region 'shrunk' (key '${object.key}'): the shared memory object is now 100 bytes, too small for 64 bytes at offset 1024`,
    );
  });

  it('a region unregistered while a request that writes into it is in flight', async () => {
    const object = shm(4096);
    await register('going', { key: object.key, byte_size: 4096 });
    const gate = new Gate(gates);
    const answer = infer('gated', {
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 4], data: [1, 2, 3, 4] }],
      outputs: [{ name: 'OUTPUT0', parameters: shmParameters('going', 0, 16) }],
      parameters: { gate: gate.path },
    });
    await gate.started();
    expect((await postJson(`${t.url}/v2/systemsharedmemory/region/going/unregister`, {})).status).toBe(200);
    gate.open();
    const { status: httpStatus, json } = await answer;
    expect(json.error).toBe("output 'OUTPUT0': shared memory region 'going' was unregistered while the request was in flight; the output was not written");
    expect(httpStatus).toBe(400);
    expect(int32s(object.read(0, 16))).toEqual([0, 0, 0, 0]);

    // The name is free again, and the server serves on.
    await register('going', { key: object.key, byte_size: 4096 });
    const again = await infer('gated', {
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 4], data: [1, 2, 3, 4] }],
      outputs: [{ name: 'OUTPUT0', parameters: shmParameters('going', 0, 16) }],
    });
    expect(again.status).toBe(200);
    expect(int32s(object.read(0, 16))).toEqual([1, 2, 3, 4]);
  });
});

describe('over gRPC', () => {
  it('registers, infers with raw contents next to shared-memory inputs, and unregisters', async () => {
    const object = shm(4096);
    object.write(256, b);
    await client.call('SystemSharedMemoryRegister', { name: 'grpc', key: object.key, offset: 0, byte_size: 4096 });
    const listed = await client.call('SystemSharedMemoryStatus', {});
    expect(listed.regions).toEqual({ grpc: { name: 'grpc', key: object.key, offset: 0, byte_size: 4096 } });
    const named = await client.call('SystemSharedMemoryStatus', { name: 'grpc' });
    expect(Object.keys(named.regions)).toEqual(['grpc']);

    const param = (region: string, offset: number) => ({
      shared_memory_region: { string_param: region },
      shared_memory_offset: { int64_param: offset },
      shared_memory_byte_size: { int64_param: 64 },
    });
    const response = await client.call('ModelInfer', {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: param('grpc', 256) },
      ],
      // Only the input outside shared memory has raw contents, as tritonclient sends them.
      raw_input_contents: [rawBytes(a)],
      outputs: [{ name: 'OUTPUT0', parameters: param('grpc', 512) }, { name: 'OUTPUT1' }],
    });
    expect(response.outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT0', 'OUTPUT1']);
    expect(Buffer.from(response.raw_output_contents[0]).length).toBe(0);
    expect(int32s(Buffer.from(response.raw_output_contents[1]))).toEqual(difference);
    expect(int32s(object.read(512, 64))).toEqual(sum);

    await client.call('SystemSharedMemoryUnregister', { name: 'grpc' });
    const gone = await client.fail('SystemSharedMemoryStatus', { name: 'grpc' });
    expect(gone.code).toBe(status.NOT_FOUND);
    expect(gone.details).toBe("Unable to find system shared memory region: 'grpc'");
  });

  it('answers bad references with the same messages as HTTP', async () => {
    const object = shm(4096);
    const refused = await client.fail('SystemSharedMemoryRegister', { name: 'x', key: object.key, offset: 4096, byte_size: 1 });
    expect(refused.code).toBe(status.INVALID_ARGUMENT);
    expect(refused.details).toBe(`failed to register shared memory region 'x': invalid args - offset 4096 + byte_size 1 = 4097 runs past the end of '${object.key}', which is 4096 bytes`);
    await client.call('SystemSharedMemoryRegister', { name: 'x', key: object.key, byte_size: 32 });
    const duplicate = await client.fail('SystemSharedMemoryRegister', { name: 'x', key: object.key, byte_size: 32 });
    expect(duplicate.code).toBe(status.ALREADY_EXISTS);
    const tooSmall = await client.fail('ModelInfer', {
      model_name: 'simple',
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from(a) } })),
      outputs: [{ name: 'OUTPUT0', parameters: { shared_memory_region: { string_param: 'x' }, shared_memory_byte_size: { int64_param: 32 } } }],
    });
    expect(tooSmall.code).toBe(status.INVALID_ARGUMENT);
    expect(tooSmall.details).toBe("shared memory size specified with the request for output 'OUTPUT0' (32 bytes) should be at least 64 bytes to hold the results");
    await client.call('SystemSharedMemoryUnregister', {});
    expect((await client.call('SystemSharedMemoryStatus', {})).regions).toEqual({});
  });
});

describe("sizes and Triton's sentences", () => {
  it('refuses uint64 offsets and sizes past the region with Triton\'s wording, over HTTP and gRPC', async () => {
    const object = shm(4096);
    await register('r', { key: object.key, byte_size: 256 });
    const uint64Max = '18446744073709551615';
    const body = (offset: string, byteSize: string) =>
      `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"shared_memory_region":"r","shared_memory_offset":${offset},"shared_memory_byte_size":${byteSize}}},` +
      `{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[${Array.from(b).join(',')}]}]}`;
    const offset = await infer('simple', body(uint64Max, '64'));
    expect(offset.status).toBe(400);
    expect(offset.json.error).toMatch(/^input 'INPUT0': Invalid offset for shared memory region: 'r'/);
    const size = await infer('simple', body('0', uint64Max));
    expect(size.status).toBe(400);
    expect(size.json.error).toMatch(/^input 'INPUT0': Invalid offset \+ byte size for shared memory region: 'r'/);
    const mismatch = await infer('simple', body('0', '128'));
    expect(mismatch.json.error).toMatch(/^input byte size mismatch for input 'INPUT0' for model 'simple'\. Expected 64, got 128/);

    const grpcOffset = await client.fail('ModelInfer', {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { shared_memory_region: { string_param: 'r' }, shared_memory_offset: { uint64_param: uint64Max }, shared_memory_byte_size: { int64_param: 64 } } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from(b) } },
      ],
    });
    expect(grpcOffset.code).toBe(status.INVALID_ARGUMENT);
    expect(grpcOffset.details).toMatch(/^input 'INPUT0': Invalid offset for shared memory region: 'r'/);
  });

  it('a key that does not exist is INTERNAL over gRPC, naming the key', async () => {
    const error = await client.fail('SystemSharedMemoryRegister', { name: 'r', key: '/test_shm', byte_size: 64 });
    expect(error.code).toBe(status.INTERNAL);
    expect(error.details).toMatch(/^Unable to open shared memory region: '\/test_shm'/);
    const slash = await client.fail('SystemSharedMemoryRegister', { name: 'r', key: '/', byte_size: 64 });
    expect(slash.code).toBe(status.INVALID_ARGUMENT);
    expect(slash.details).toBe("cannot register shared memory region 'r' - invalid shm key '/'");
  });
});

describe('CUDA shared memory on a server without GPUs', () => {
  const handle = { b64: Buffer.alloc(64, 7).toString('base64') };

  it('lists no regions, unregisters, and refuses registration with the reason, over HTTP', async () => {
    expect(await getJson(`${t.url}/v2/cudasharedmemory/status`)).toEqual({ status: 200, json: [] });
    expect((await postJson(`${t.url}/v2/cudasharedmemory/unregister`, {})).status).toBe(200);
    expect((await postJson(`${t.url}/v2/cudasharedmemory/region/output_data/unregister`, {})).status).toBe(200);
    const refused = await postJson(`${t.url}/v2/cudasharedmemory/region/input_data/register`, { raw_handle: handle, device_id: 0, byte_size: 64 });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatch(/^failed to register CUDA shared memory region 'input_data': no CUDA device/);
    const malformed = await postJson(`${t.url}/v2/cudasharedmemory/region/input_data/register`, { raw_handle: 'abc', device_id: 0, byte_size: 64 });
    expect(malformed.json.error).toMatch(/'raw_handle' must be \{"b64"/);
    const missing = await postJson(`${t.url}/v2/cudasharedmemory/region/input_data/register`, { raw_handle: handle, byte_size: 64 });
    expect(missing.json.error).toBe("CUDA shared memory register request has no 'device_id' field");
    const unknown = await getJson(`${t.url}/v2/cudasharedmemory/region/input_data/status`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe("Unable to find cuda shared memory region: 'input_data'");
    expect((await getJson(`${t.url}/v2`)).json.extensions).toContain('cuda_shared_memory');
  });

  it('answers the same over gRPC', async () => {
    expect(await client.call('CudaSharedMemoryStatus', {})).toEqual({ regions: {} });
    expect(await client.call('CudaSharedMemoryUnregister', {})).toEqual({});
    expect(await client.call('CudaSharedMemoryUnregister', { name: 'output_data' })).toEqual({});
    const refused = await client.fail('CudaSharedMemoryRegister', { name: 'input_data', raw_handle: Buffer.alloc(64, 7), device_id: 0, byte_size: 64 });
    expect(refused.code).toBe(status.INVALID_ARGUMENT);
    expect(refused.details).toMatch(/^failed to register CUDA shared memory region 'input_data': no CUDA device/);
    const unknown = await client.fail('CudaSharedMemoryStatus', { name: 'input_data' });
    expect(unknown.code).toBe(status.NOT_FOUND);
  });
});

describe('--allow-client-shm=false (the default, as in Triton)', () => {
  let closed: TestServer;
  let closedClient: InferenceClient;
  beforeAll(async () => {
    closed = await startTestServer({ modelRepositories: [scratch.root], modelControlMode: 'explicit', loadModels: ['simple'] });
    closedClient = new InferenceClient(closed.grpcTarget);
  });
  afterAll(async () => {
    closedClient.close();
    await closed.server.stop();
  });

  it('refuses registration and unregistration over both protocols, and still reports status', async () => {
    const object = shm(64);
    const urls = [
      [`${closed.url}/v2/systemsharedmemory/region/r/register`, { key: object.key, byte_size: 64 }],
      [`${closed.url}/v2/systemsharedmemory/unregister`, {}],
      [`${closed.url}/v2/cudasharedmemory/region/r/register`, { raw_handle: handle(), device_id: 0, byte_size: 64 }],
      [`${closed.url}/v2/cudasharedmemory/unregister`, {}],
    ] as const;
    for (const [url, body] of urls) {
      const refused = await postJson(url, body);
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatch(/client shared memory is disabled on this server; start it with --allow-client-shm=true/);
    }
    const grpcRefused = await closedClient.fail('SystemSharedMemoryRegister', { name: 'r', key: object.key, byte_size: 64 });
    expect(grpcRefused.code).toBe(status.INVALID_ARGUMENT);
    expect(grpcRefused.details).toMatch(/--allow-client-shm=true/);
    expect((await closedClient.fail('SystemSharedMemoryUnregister', {})).details).toMatch(/--allow-client-shm=true/);
    expect(await getJson(`${closed.url}/v2/systemsharedmemory/status`)).toEqual({ status: 200, json: [] });
  });

  function handle() {
    return { b64: Buffer.alloc(64).toString('base64') };
  }
});
