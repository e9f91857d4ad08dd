/**
 * The CUDA shared memory registry and its input/output copies, through a real server over
 * real HTTP and gRPC, with a FAKE device memory: host buffers that stand in for the GPU
 * memory a client exported, found by their 64-byte handle. This machine has no GPU, so
 * this checks Nereid's side (registration bookkeeping, bounds, reads into inputs, writes
 * of outputs, unregistering) and not CUDA's; cudaIpcOpenMemHandle and cudaMemcpy are
 * checked by native/cuda/test/cuda-ipc-test.cc on a GPU (native/cuda/check-gpu.sh). The
 * real no-GPU behaviour is in cuda-shared-memory.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CUDA_IPC_HANDLE_BYTES, type DeviceMemory, type DeviceMemoryOpener } from '../../src/server/index.js';
import { InferenceClient, rawBytes } from '../helpers/grpc-client.js';
import { addModel, EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

/** Fake GPU memory: allocations in host memory, two devices, handles that name an allocation. */
class FakeDeviceMemory implements DeviceMemoryOpener {
  readonly allocations = new Map<string, { device: number; bytes: Uint8Array }>();
  open = (handle: Uint8Array, deviceId: number, byteSize: number): DeviceMemory => {
    const fail = (code: string, message: string) => Object.assign(new Error(message), { code });
    if (deviceId >= 2) throw fail('ERR_DEVICE_RANGE', `device_id ${deviceId} is not a CUDA device of this server (it has 2, numbered from 0)`);
    const allocation = this.allocations.get(Buffer.from(handle).toString('hex'));
    if (!allocation || allocation.device !== deviceId) throw fail('ERR_IPC_OPEN', 'failed to open CUDA IPC handle: invalid argument');
    if (byteSize > allocation.bytes.length) throw fail('ERR_OUT_OF_RANGE', `byte_size ${byteSize} runs past the ${allocation.bytes.length}-byte device allocation`);
    let open = true;
    const check = (offset: number, length: number) => {
      if (!open) throw fail('ERR_CLOSED', 'the CUDA shared memory region is closed');
      if (offset + length > byteSize) throw fail('ERR_OUT_OF_RANGE', `offset ${offset} + ${length} bytes runs past the ${byteSize}-byte region`);
    };
    this.opened += 1;
    return {
      read: (offset, target) => {
        check(offset, target.length);
        target.set(allocation.bytes.subarray(offset, offset + target.length));
      },
      write: (offset, source) => {
        check(offset, source.length);
        allocation.bytes.set(source, offset);
      },
      close: () => {
        if (open) this.closed += 1;
        open = false;
      },
    };
  };
  opened = 0;
  closed = 0;

  /** "cudaMalloc + cudaIpcGetMemHandle": a new allocation and its handle. */
  allocate(device: number, byteSize: number): { handle: Buffer; bytes: Uint8Array } {
    const handle = Buffer.alloc(CUDA_IPC_HANDLE_BYTES);
    handle.writeUInt32LE(this.allocations.size + 1, 0);
    const bytes = new Uint8Array(byteSize);
    this.allocations.set(handle.toString('hex'), { device, bytes });
    return { handle, bytes };
  }
}

const device = new FakeDeviceMemory();
let t: TestServer;
let client: InferenceClient;
let scratch: ReturnType<typeof scratchRepository>;

beforeAll(async () => {
  scratch = scratchRepository();
  addModel(scratch.root, 'simple', { from: 'simple', config: readFileSync(join(EXAMPLE_REPOSITORY, 'simple', 'config.pbtxt'), 'utf8') });
  t = await startTestServer({ modelRepositories: [scratch.root], allowClientShm: true, deviceMemory: device });
  client = new InferenceClient(t.grpcTarget);
});

afterAll(async () => {
  client.close();
  await t.server.stop();
  scratch.cleanup();
});

afterEach(async () => {
  await postJson(`${t.url}/v2/cudasharedmemory/unregister`, {});
  await postJson(`${t.url}/v2/systemsharedmemory/unregister`, {});
});

const a = Int32Array.from({ length: 16 }, (_, i) => i * 3 - 20);
const b = Int32Array.from({ length: 16 }, (_, i) => 100 - i);
const bytesOf = (values: Int32Array) => new Uint8Array(values.buffer.slice(0));
const int32s = (bytes: Uint8Array) => Array.from(new Int32Array(bytes.slice().buffer));
const shm = (region: string, offset: number, byteSize = 64) => ({ shared_memory_region: region, shared_memory_offset: offset, shared_memory_byte_size: byteSize });
const registerCuda = (name: string, handle: Buffer, deviceId: number, byteSize: number) =>
  postJson(`${t.url}/v2/cudasharedmemory/region/${name}/register`, { raw_handle: { b64: handle.toString('base64') }, device_id: deviceId, byte_size: byteSize });

describe('CUDA shared memory with a fake device memory (host buffers standing in for GPU memory)', () => {
  it('registers over HTTP, lists the region in Triton\'s status form, reads inputs and writes outputs', async () => {
    const { handle, bytes } = device.allocate(1, 512);
    bytes.set(bytesOf(a), 0);
    bytes.set(bytesOf(b), 64);
    expect((await registerCuda('gpu_io', handle, 1, 512)).status).toBe(200);
    expect((await getJson(`${t.url}/v2/cudasharedmemory/status`)).json).toEqual([{ name: 'gpu_io', device_id: 1, byte_size: 512 }]);
    expect((await getJson(`${t.url}/v2/cudasharedmemory/region/gpu_io/status`)).json).toEqual([{ name: 'gpu_io', device_id: 1, byte_size: 512 }]);
    expect((await getJson(`${t.url}/v2/systemsharedmemory/status`)).json).toEqual([]);

    const answer = await postJson(`${t.url}/v2/models/simple/infer`, {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shm('gpu_io', 0) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shm('gpu_io', 64) },
      ],
      outputs: [{ name: 'OUTPUT0', parameters: shm('gpu_io', 128) }, { name: 'OUTPUT1', parameters: shm('gpu_io', 256) }],
    });
    expect(answer.status).toBe(200);
    // Outputs written to shared memory come back described, without data.
    expect(answer.json.outputs.map((o: { name: string; data?: unknown }) => [o.name, o.data])).toEqual([['OUTPUT0', undefined], ['OUTPUT1', undefined]]);
    expect(int32s(bytes.subarray(128, 192))).toEqual(Array.from(a, (x, i) => x + b[i]));
    expect(int32s(bytes.subarray(256, 320))).toEqual(Array.from(a, (x, i) => x - b[i]));
  });

  it('does the same over gRPC, with a handle opened by the CudaSharedMemoryRegister RPC', async () => {
    const { handle, bytes } = device.allocate(0, 256);
    bytes.set(bytesOf(b), 64);
    await client.call('CudaSharedMemoryRegister', { name: 'g', raw_handle: handle, device_id: 0, byte_size: 256 });
    expect(await client.call('CudaSharedMemoryStatus', { name: 'g' })).toEqual({ regions: { g: { name: 'g', device_id: 0, byte_size: 256 } } });
    const param = (offset: number) => ({
      shared_memory_region: { string_param: 'g' },
      shared_memory_offset: { int64_param: offset },
      shared_memory_byte_size: { int64_param: 64 },
    });
    const response = await client.call('ModelInfer', {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: param(64) },
      ],
      raw_input_contents: [rawBytes(a)],
      outputs: [{ name: 'OUTPUT0', parameters: param(128) }, { name: 'OUTPUT1' }],
    });
    expect(Buffer.from(response.raw_output_contents[0]).length).toBe(0);
    expect(int32s(new Uint8Array(response.raw_output_contents[1]))).toEqual(Array.from(a, (x, i) => x - b[i]));
    expect(int32s(bytes.subarray(128, 192))).toEqual(Array.from(a, (x, i) => x + b[i]));
    await client.call('CudaSharedMemoryUnregister', { name: 'g' });
    expect(await client.call('CudaSharedMemoryStatus', {})).toEqual({ regions: {} });
  });

  it('refuses what the device refuses, and bad references, with the reason', async () => {
    const { handle } = device.allocate(0, 128);
    const wrongDevice = await registerCuda('r', handle, 1, 128);
    expect(wrongDevice.status).toBe(400);
    expect(wrongDevice.json.error).toBe("failed to register CUDA shared memory region 'r': failed to open CUDA IPC handle: invalid argument");
    expect((await registerCuda('r', handle, 5, 128)).json.error).toBe(
      "failed to register CUDA shared memory region 'r': device_id 5 is not a CUDA device of this server (it has 2, numbered from 0)",
    );
    expect((await registerCuda('r', handle, 0, 129)).json.error).toBe(
      "failed to register CUDA shared memory region 'r': byte_size 129 runs past the 128-byte device allocation",
    );
    expect((await registerCuda('r', handle, 0, 128)).status).toBe(200);
    const duplicate = await registerCuda('r', handle, 0, 128);
    expect(duplicate.status).toBe(400);
    expect(duplicate.json.error).toBe("shared memory region 'r' already in manager");

    const outOfRegion = await postJson(`${t.url}/v2/models/simple/infer`, {
      inputs: ['INPUT0', 'INPUT1'].map((name, i) => ({ name, datatype: 'INT32', shape: [1, 16], parameters: shm('r', 96 * i) })),
    });
    expect(outOfRegion.status).toBe(400);
    expect(outOfRegion.json.error).toMatch(/^input 'INPUT1': Invalid offset \+ byte size for shared memory region: 'r'/);
    const tooSmall = await postJson(`${t.url}/v2/models/simple/infer`, {
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array.from(a) })),
      outputs: [{ name: 'OUTPUT0', parameters: shm('r', 0, 32) }],
    });
    expect(tooSmall.json.error).toBe("shared memory size specified with the request for output 'OUTPUT0' (32 bytes) should be at least 64 bytes to hold the results");
  });

  it('keeps system and CUDA regions apart: status, unregister and names', async () => {
    const { handle } = device.allocate(0, 64);
    expect((await registerCuda('c', handle, 0, 64)).status).toBe(200);
    const asSystem = await getJson(`${t.url}/v2/systemsharedmemory/region/c/status`);
    expect(asSystem.status).toBe(404);
    expect(asSystem.json.error).toBe("The region named 'c' is registered as CUDA shared memory, not system shared memory");
    // Unregistering every system region, or this name as a system region, leaves the CUDA one.
    expect((await postJson(`${t.url}/v2/systemsharedmemory/unregister`, {})).status).toBe(200);
    expect((await postJson(`${t.url}/v2/systemsharedmemory/region/c/unregister`, {})).status).toBe(200);
    expect((await getJson(`${t.url}/v2/cudasharedmemory/status`)).json).toEqual([{ name: 'c', device_id: 0, byte_size: 64 }]);
    const closedBefore = device.closed;
    expect((await postJson(`${t.url}/v2/cudasharedmemory/region/c/unregister`, {})).status).toBe(200);
    expect(device.closed).toBe(closedBefore + 1);
    expect((await getJson(`${t.url}/v2/cudasharedmemory/status`)).json).toEqual([]);
    const gone = await postJson(`${t.url}/v2/models/simple/infer`, {
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], parameters: shm('c', 0) })),
    });
    expect(gone.status).toBe(404);
  });

  it('closes every region the server opened when it stops', async () => {
    const own = await startTestServer({ modelRepositories: [scratch.root], allowClientShm: true, deviceMemory: device, modelControlMode: 'explicit' });
    const { handle } = device.allocate(0, 64);
    const before = { opened: device.opened, closed: device.closed };
    const body = { raw_handle: { b64: handle.toString('base64') }, device_id: 0, byte_size: 64 };
    expect((await postJson(`${own.url}/v2/cudasharedmemory/region/x/register`, body)).status).toBe(200);
    expect((await postJson(`${own.url}/v2/cudasharedmemory/region/y/register`, body)).status).toBe(200);
    await own.server.stop();
    expect(device.opened - before.opened).toBe(2);
    expect(device.closed - before.closed).toBe(2);
  });
});
