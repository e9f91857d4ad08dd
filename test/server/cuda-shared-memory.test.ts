/**
 * Triton's CUDA shared memory extension on this machine, which has no GPU: over real HTTP
 * and gRPC, registration fails with the reason in Triton's wording, malformed requests
 * are 400s naming the field, and nothing is left registered.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cudaProbe } from '../../src/backends/index.js';
import { grpc, InferenceClient } from '../helpers/grpc-client.js';
import { addModel, EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const { status } = grpc;
let t: TestServer;
let client: InferenceClient;
let scratch: ReturnType<typeof scratchRepository>;

beforeAll(async () => {
  scratch = scratchRepository();
  addModel(scratch.root, 'simple', { from: 'simple', config: readFileSync(join(EXAMPLE_REPOSITORY, 'simple', 'config.pbtxt'), 'utf8') });
  t = await startTestServer({ modelRepositories: [scratch.root], allowClientShm: true });
  client = new InferenceClient(t.grpcTarget);
});

afterAll(async () => {
  client.close();
  await t.server.stop();
  scratch.cleanup();
});

const handle = (bytes = 64) => ({ b64: Buffer.alloc(bytes, 7).toString('base64') });
const register = (name: string, body: object) => postJson(`${t.url}/v2/cudasharedmemory/region/${name}/register`, body);

describe('CUDA shared memory registration without a GPU', () => {
  it('this machine has no CUDA device (the premise of these tests)', () => {
    const probe = cudaProbe();
    expect(probe.devices).toEqual([]);
    expect(probe.reason).toMatch(/libcuda\.so\.1|no CUDA device|CUDA runtime/);
  });

  it('fails over HTTP with the reason the device cannot be opened, in Triton\'s sentence', async () => {
    const refused = await register('input_data', { raw_handle: handle(), device_id: 0, byte_size: 64 });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatch(/^failed to register CUDA shared memory region 'input_data': no CUDA device: /);
    expect(refused.json.error).toContain(cudaProbe().reason!);
    const otherDevice = await register('input_data', { raw_handle: handle(), device_id: 3, byte_size: 64 });
    expect(otherDevice.json.error).toMatch(/^failed to register CUDA shared memory region 'input_data': no CUDA device/);
    expect(await getJson(`${t.url}/v2/cudasharedmemory/status`)).toEqual({ status: 200, json: [] });
    expect((await getJson(`${t.url}/v2/cudasharedmemory/region/input_data/status`)).status).toBe(404);
  });

  it('fails over gRPC the same way', async () => {
    const refused = await client.fail('CudaSharedMemoryRegister', { name: 'input_data', raw_handle: Buffer.alloc(64, 7), device_id: 0, byte_size: 64 });
    expect(refused.code).toBe(status.INVALID_ARGUMENT);
    expect(refused.details).toMatch(/^failed to register CUDA shared memory region 'input_data': no CUDA device: /);
    expect(await client.call('CudaSharedMemoryStatus', {})).toEqual({ regions: {} });
  });

  it('answers malformed HTTP registrations with 400 naming the field', async () => {
    const cases: Array<[object, RegExp]> = [
      [{ device_id: 0, byte_size: 64 }, /^CUDA shared memory register request has no 'raw_handle' field$/],
      [{ raw_handle: 'abc', device_id: 0, byte_size: 64 }, /'raw_handle' must be \{"b64"/],
      [{ raw_handle: { b64: 'not base64!' }, device_id: 0, byte_size: 64 }, /^'raw_handle' must be a valid base64 encoded cudaIpcMemHandle_t: its 'b64' \(11 characters\) is not standard base64$/],
      [{ raw_handle: { b64: 'QUJD' }, device_id: 0, byte_size: 64 }, /^failed to register CUDA shared memory region 'r': 'raw_handle' must be a cudaIpcMemHandle_t of 64 bytes, got 3 bytes$/],
      [{ raw_handle: handle(65), device_id: 0, byte_size: 64 }, /'raw_handle' must be a cudaIpcMemHandle_t of 64 bytes, got 65 bytes$/],
      [{ raw_handle: handle(), byte_size: 64 }, /^CUDA shared memory register request has no 'device_id' field$/],
      [{ raw_handle: handle(), device_id: 0 }, /^CUDA shared memory register request has no 'byte_size' field$/],
      [{ raw_handle: handle(), device_id: -1, byte_size: 64 }, /'device_id' must be a non-negative integer, got -1/],
      [{ raw_handle: handle(), device_id: 0, byte_size: 0 }, /^failed to register CUDA shared memory region 'r': 'byte_size' must be positive$/],
      [{ raw_handle: handle(), device_id: 0, byte_size: 'big' }, /'byte_size' must be a non-negative integer, got "big"/],
    ];
    for (const [body, message] of cases) {
      const refused = await register('r', body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.json.error).toMatch(message);
    }
    expect((await getJson(`${t.url}/v2/cudasharedmemory/status`)).json).toEqual([]);
  });

  it('answers malformed gRPC registrations with INVALID_ARGUMENT naming the field', async () => {
    const cases: Array<[object, RegExp]> = [
      [{ name: 'r', device_id: 0, byte_size: 64 }, /'raw_handle' must be a cudaIpcMemHandle_t of 64 bytes, got 0 bytes$/],
      [{ name: 'r', raw_handle: Buffer.alloc(10), device_id: 0, byte_size: 64 }, /'raw_handle' must be a cudaIpcMemHandle_t of 64 bytes, got 10 bytes$/],
      [{ name: 'r', raw_handle: Buffer.alloc(64), device_id: -2, byte_size: 64 }, /'device_id' must be a non-negative integer, got -2$/],
      [{ name: 'r', raw_handle: Buffer.alloc(64), device_id: 0 }, /^failed to register CUDA shared memory region 'r': 'byte_size' must be positive$/],
      [{ raw_handle: Buffer.alloc(64), device_id: 0, byte_size: 64 }, /^'region name' is necessary to register cuda shared memory region$/],
    ];
    for (const [request, message] of cases) {
      const refused = await client.fail('CudaSharedMemoryRegister', request);
      expect(refused.code, JSON.stringify(request)).toBe(status.INVALID_ARGUMENT);
      expect(refused.details).toMatch(message);
    }
  });

  it('keeps serving inference after the refusals, and unregisters as client scripts expect', async () => {
    expect((await postJson(`${t.url}/v2/cudasharedmemory/unregister`, {})).status).toBe(200);
    expect((await postJson(`${t.url}/v2/cudasharedmemory/region/r/unregister`, {})).status).toBe(200);
    expect(await client.call('CudaSharedMemoryUnregister', { name: 'r' })).toEqual({});
    const data = Array.from({ length: 16 }, (_, i) => i);
    const answer = await postJson(`${t.url}/v2/models/simple/infer`, {
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data })),
    });
    expect(answer.status).toBe(200);
    expect(answer.json.outputs[0].data).toEqual(data.map((x) => 2 * x));
    const unknown = await postJson(`${t.url}/v2/models/simple/infer`, {
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({
        name,
        datatype: 'INT32',
        shape: [1, 16],
        parameters: { shared_memory_region: 'input_data', shared_memory_byte_size: 64 },
      })),
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe("input 'INPUT0': Unable to find shared memory region: 'input_data'");
  });
});
