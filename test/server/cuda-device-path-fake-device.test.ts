/**
 * The cuda backend's direct device path through a real server over real HTTP and gRPC,
 * on a FAKE device: NEREID_FAKE_CUDA_DEVICES=2 places KIND_GPU instances of `backend:
 * "cuda"` on fake devices 0 and 1 that run the CPU reference, and the "GPU memory" a
 * client exports is host memory (SharedArrayBuffers) behind the DeviceMemory interface,
 * which counts every copy between it and the host. This machine has no GPU: these tests
 * check Nereid's side (which requests take the device path, gathering a batch from several
 * regions, scattering outputs, fallbacks, errors); the CUDA side (cudaMemcpy device to
 * device, DenseExecutor::runBatch on IPC memory) is checked by native/cuda/check-gpu.sh.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_CUDA_DEVICES_ENV } from '../../src/backends/cuda/fake-device.js';
import type { DeviceSpan } from '../../src/core/index.js';
import { CUDA_IPC_HANDLE_BYTES, type DeviceMemory, type DeviceMemoryOpener } from '../../src/server/index.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { mlpRow } from '../helpers/reference-models.js';
import { addModel, EXAMPLE_REPOSITORY, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

/** Fake GPU memory shared with the model's worker; counts the copies to and from the host. */
class FakeSharedDeviceMemory implements DeviceMemoryOpener {
  private readonly allocations = new Map<string, { device: number; buffer: SharedArrayBuffer }>();
  hostReads = 0;
  hostWrites = 0;
  closed = 0;

  open = (handle: Uint8Array, deviceId: number, byteSize: number): DeviceMemory => {
    const allocation = this.allocations.get(Buffer.from(handle).toString('hex'));
    if (!allocation || allocation.device !== deviceId) throw Object.assign(new Error('failed to open CUDA IPC handle: invalid argument'), { code: 'ERR_IPC_OPEN' });
    const bytes = new Uint8Array(allocation.buffer, 0, byteSize);
    return {
      read: (offset, target) => {
        this.hostReads += 1;
        target.set(bytes.subarray(offset, offset + target.length));
      },
      write: (offset, source) => {
        this.hostWrites += 1;
        bytes.set(source, offset);
      },
      span: (offset, length): DeviceSpan => {
        if (offset + length > byteSize) throw Object.assign(new Error(`offset ${offset} + ${length} bytes runs past the ${byteSize}-byte region`), { code: 'ERR_OUT_OF_RANGE' });
        return { deviceId, pointer: BigInt(offset), byteSize: length, sharedBuffer: allocation.buffer };
      },
      close: () => {
        this.closed += 1;
      },
    };
  };

  /** "cudaMalloc + cudaIpcGetMemHandle" on fake device `device`. */
  allocate(device: number, byteSize: number): { handle: Buffer; floats: Float32Array } {
    const handle = Buffer.alloc(CUDA_IPC_HANDLE_BYTES);
    handle.writeUInt32LE(this.allocations.size + 1, 0);
    const buffer = new SharedArrayBuffer(byteSize);
    this.allocations.set(handle.toString('hex'), { device, buffer });
    return { handle, floats: new Float32Array(buffer) };
  }

  get hostCopies(): number {
    return this.hostReads + this.hostWrites;
  }
}

const IN = 256;
const OUT = 16;
const cudaConfig = (instances: string, batching = '') => `backend: "cuda"
max_batch_size: 8
input [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ ${IN} ] }]
output [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ ${OUT} ] }]
instance_group [{ count: 1 ${instances} }]
${batching}
`;

const device = new FakeSharedDeviceMemory();
const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;
const previousEnv = process.env[FAKE_CUDA_DEVICES_ENV];

beforeAll(async () => {
  process.env[FAKE_CUDA_DEVICES_ENV] = '2';
  addModel(repo.root, 'mlp_gpu0', { from: 'mlp', config: cudaConfig('kind: KIND_GPU gpus: [ 0 ]') });
  // Waits for 4 rows (or 30 s): requests sent together run as one execution.
  addModel(repo.root, 'mlp_gpu0_batched', {
    from: 'mlp',
    config: cudaConfig('kind: KIND_GPU gpus: [ 0 ]', 'dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 30000000 }'),
  });
  addModel(repo.root, 'mlp_cpu', { from: 'mlp', config: cudaConfig('kind: KIND_CPU') });
  addModel(repo.root, 'mlp_onnxruntime', { from: 'mlp', config: readFileSync(join(EXAMPLE_REPOSITORY, 'mlp', 'config.pbtxt'), 'utf8').replace(/name:\s*"mlp"/, 'name: "mlp_onnxruntime"') });
  t = await startTestServer({ modelRepositories: [repo.root], allowClientShm: true, deviceMemory: device });
  client = new InferenceClient(t.grpcTarget);
});

afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
  if (previousEnv === undefined) delete process.env[FAKE_CUDA_DEVICES_ENV];
  else process.env[FAKE_CUDA_DEVICES_ENV] = previousEnv;
});

beforeEach(async () => {
  await postJson(`${t.url}/v2/cudasharedmemory/unregister`, {});
  device.hostReads = 0;
  device.hostWrites = 0;
});

const inputRows = (count: number, seed: number) => Array.from({ length: count }, (_, r) => Array.from({ length: IN }, (_, i) => Math.sin(i * 0.07 + r + seed) / 2));
const shm = (region: string, offset: number, byteSize: number) => ({ shared_memory_region: region, shared_memory_offset: offset, shared_memory_byte_size: byteSize });
const register = (name: string, handle: Buffer, deviceId: number, byteSize: number) =>
  postJson(`${t.url}/v2/cudasharedmemory/region/${name}/register`, { raw_handle: { b64: handle.toString('base64') }, device_id: deviceId, byte_size: byteSize });
/** A request with its input rows at byte `inputOffset` of `region` and its output at `outputOffset`. */
const regionRequest = (region: string, rows: number, inputOffset: number, outputOffset?: number) => ({
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [rows, IN], parameters: shm(region, inputOffset, rows * IN * 4) }],
  outputs: [outputOffset === undefined ? { name: 'OUTPUT0' } : { name: 'OUTPUT0', parameters: shm(region, outputOffset, rows * OUT * 4) }],
});
const closeTo = (actual: ArrayLike<number>, expected: readonly number[]) => {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(...expected.map(Math.abs));
  Array.from(actual).forEach((value, i) => expect(Math.abs(value - expected[i])).toBeLessThanOrEqual(1e-5 * scale));
};
const stats = async (model: string) => (await getJson(`${t.url}/v2/models/${model}/stats`)).json.model_stats[0];

describe('the direct device path on a fake CUDA device (host memory standing in for GPU memory)', () => {
  it('reads the inputs and writes the outputs in the region without a host copy, as the CPU reference computes them', async () => {
    const rows = inputRows(2, 0);
    const { handle, floats } = device.allocate(0, 4096 + 2 * IN * 4);
    floats.set(rows.flat(), 0);
    expect((await register('io', handle, 0, floats.byteLength)).status).toBe(200);
    const answer = await postJson(`${t.url}/v2/models/mlp_gpu0/infer`, regionRequest('io', 2, 0, 2 * IN * 4));
    expect(answer.status).toBe(200);
    expect(answer.json.outputs).toEqual([{ name: 'OUTPUT0', datatype: 'FP32', shape: [2, OUT] }]);
    expect(device.hostCopies).toBe(0);
    const written = floats.slice(2 * IN, 2 * IN + 2 * OUT);
    closeTo(written, rows.flatMap(mlpRow));

    // The same values through the host path (a KIND_CPU instance) copy the input from the region, and agree bit for bit.
    const host = await postJson(`${t.url}/v2/models/mlp_cpu/infer`, regionRequest('io', 2, 0));
    expect(host.status).toBe(200);
    expect(device.hostReads).toBe(1);
    expect(host.json.outputs[0].data).toEqual(Array.from(written));
  });

  it('gathers the inputs of requests batched together from their own regions and scatters each output to its own', async () => {
    const sizes = [1, 2, 1];
    const regions = sizes.map((rows, k) => {
      const { handle, floats } = device.allocate(0, (rows * (IN + OUT) + 64) * 4);
      const values = inputRows(rows, 10 + k);
      floats.set(values.flat(), 64);
      return { name: `batch${k}`, handle, floats, rows, values };
    });
    for (const r of regions) expect((await register(r.name, r.handle, 0, r.floats.byteLength)).status).toBe(200);
    const before = await stats('mlp_gpu0_batched');
    const answers = await Promise.all(regions.map((r) => postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, regionRequest(r.name, r.rows, 64 * 4, (64 + r.rows * IN) * 4))));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const after = await stats('mlp_gpu0_batched');
    expect(after.execution_count - before.execution_count).toBe(1);
    expect(after.inference_count - before.inference_count).toBe(4);
    expect(device.hostCopies).toBe(0);
    for (const r of regions) closeTo(r.floats.subarray(64 + r.rows * IN, 64 + r.rows * (IN + OUT)), r.values.flatMap(mlpRow));
  });

  it('returns an output to the host when the request did not give a region for it, still reading the input in place', async () => {
    const rows = inputRows(1, 3);
    const { handle, floats } = device.allocate(0, IN * 4);
    floats.set(rows.flat());
    await register('in_only', handle, 0, floats.byteLength);
    const answer = await postJson(`${t.url}/v2/models/mlp_gpu0/infer`, regionRequest('in_only', 1, 0));
    expect(answer.status).toBe(200);
    expect(device.hostCopies).toBe(0);
    closeTo(answer.json.outputs[0].data, mlpRow(rows[0]));
  });

  it('batches a device request with a host request by copying the device one to the host, both answered right', async () => {
    const [deviceRow, hostRow] = [inputRows(1, 20)[0], inputRows(1, 21)[0]];
    const { handle, floats } = device.allocate(0, (IN + OUT) * 4);
    floats.set(deviceRow);
    await register('mixed', handle, 0, floats.byteLength);
    const hostRequest = { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [3, IN], data: [hostRow, hostRow, hostRow].flat() }] };
    const [fromDevice, fromHost] = await Promise.all([
      postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, regionRequest('mixed', 1, 0, IN * 4)),
      postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, hostRequest),
    ]);
    expect([fromDevice.status, fromHost.status]).toEqual([200, 200]);
    closeTo(floats.subarray(IN, IN + OUT), mlpRow(deviceRow));
    closeTo(fromHost.json.outputs[0].data, [hostRow, hostRow, hostRow].flatMap(mlpRow));
    // Mixed: the input was copied to the host; the output still went straight to the region.
    expect(device.hostReads).toBe(1);
    expect(device.hostWrites).toBe(0);
  });

  it('keeps the host path for a region on another device and for a model of another backend', async () => {
    const rows = inputRows(1, 5);
    const { handle, floats } = device.allocate(1, (IN + OUT) * 4);
    floats.set(rows.flat());
    await register('gpu1', handle, 1, floats.byteLength);
    const other = await postJson(`${t.url}/v2/models/mlp_gpu0/infer`, regionRequest('gpu1', 1, 0, IN * 4));
    expect(other.status).toBe(200);
    expect([device.hostReads, device.hostWrites]).toEqual([1, 1]);
    closeTo(floats.subarray(IN, IN + OUT), mlpRow(rows[0]));

    floats.fill(0, IN);
    const onnx = await postJson(`${t.url}/v2/models/mlp_onnxruntime/infer`, regionRequest('gpu1', 1, 0, IN * 4));
    expect(onnx.status).toBe(200);
    expect([device.hostReads, device.hostWrites]).toEqual([2, 2]);
    closeTo(floats.subarray(IN, IN + OUT), mlpRow(rows[0]));
  });

  it('keeps an input region mapped while a request that reads it in place is queued, though unregistered meanwhile, and closes it after', async () => {
    const rows = inputRows(1, 30);
    const leaving = device.allocate(0, IN * 4);
    leaving.floats.set(rows.flat());
    const stays = device.allocate(0, OUT * 4);
    await register('leaving', leaving.handle, 0, IN * 4);
    await register('stays', stays.handle, 0, OUT * 4);
    const scheduler = t.server.registry.resolve('mlp_gpu0_batched').requestScheduler;
    // The batcher holds it, waiting for 4 rows.
    const queued = postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, IN], parameters: shm('leaving', 0, IN * 4) }],
      outputs: [{ name: 'OUTPUT0', parameters: shm('stays', 0, OUT * 4) }],
    });
    await expect.poll(() => scheduler.queuedCount).toBe(1);
    const closedBefore = device.closed;
    expect((await postJson(`${t.url}/v2/cudasharedmemory/region/leaving/unregister`, {})).status).toBe(200);
    expect((await getJson(`${t.url}/v2/cudasharedmemory/status`)).json).toEqual([{ name: 'stays', device_id: 0, byte_size: OUT * 4 }]);
    expect(device.closed).toBe(closedBefore);
    const filler = await postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [3, IN], data: inputRows(3, 31).flat() }] });
    expect(filler.status).toBe(200);
    expect((await queued).status).toBe(200);
    closeTo(stays.floats, mlpRow(rows[0]));
    expect(device.closed).toBe(closedBefore + 1);
    // Batched with a host request, the input was read from the (unregistered, still mapped) region into the host batch.
    expect([device.hostReads, device.hostWrites]).toEqual([1, 0]);
  });

  it('refuses an output whose region was unregistered while its request was queued, as the host path does; the request batched with it is answered', async () => {
    const { handle, floats } = device.allocate(0, (IN + OUT) * 4);
    floats.set(inputRows(1, 32).flat());
    await register('gone', handle, 0, floats.byteLength);
    const scheduler = t.server.registry.resolve('mlp_gpu0_batched').requestScheduler;
    const queued = postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, regionRequest('gone', 1, 0, IN * 4));
    await expect.poll(() => scheduler.queuedCount).toBe(1);
    await postJson(`${t.url}/v2/cudasharedmemory/region/gone/unregister`, {});
    const fillerRows = inputRows(3, 33);
    const filler = await postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [3, IN], data: fillerRows.flat() }] });
    expect(filler.status).toBe(200);
    closeTo(filler.json.outputs[0].data, fillerRows.flatMap(mlpRow));
    const refused = await queued;
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe("output 'OUTPUT0': shared memory region 'gone' was unregistered while the request was in flight; the output was not written");
    expect(Array.from(floats.subarray(IN, IN + OUT))).toEqual(new Array(OUT).fill(0));
  });

  it('takes the device path over gRPC too', async () => {
    const rows = inputRows(1, 7);
    const { handle, floats } = device.allocate(0, (IN + OUT) * 4);
    floats.set(rows.flat());
    await client.call('CudaSharedMemoryRegister', { name: 'grpc_io', raw_handle: handle, device_id: 0, byte_size: floats.byteLength });
    const param = (offset: number, byteSize: number) => ({
      shared_memory_region: { string_param: 'grpc_io' },
      shared_memory_offset: { int64_param: offset },
      shared_memory_byte_size: { int64_param: byteSize },
    });
    const response = await client.call('ModelInfer', {
      model_name: 'mlp_gpu0',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, IN], parameters: param(0, IN * 4) }],
      outputs: [{ name: 'OUTPUT0', parameters: param(IN * 4, OUT * 4) }],
    });
    expect(Buffer.from(response.raw_output_contents[0]).length).toBe(0);
    expect(device.hostCopies).toBe(0);
    closeTo(floats.subarray(IN, IN + OUT), mlpRow(rows[0]));
  });

  it('refuses bad references naming the tensor and the field, and requests batched with a refused one still succeed', async () => {
    const rows = inputRows(2, 9);
    const { handle, floats } = device.allocate(0, 4096);
    floats.set(rows.flat().slice(0, 512));
    await register('bad', handle, 0, 4096);
    const badOffset = await postJson(`${t.url}/v2/models/mlp_gpu0/infer`, regionRequest('bad', 1, 4096));
    expect(badOffset.status).toBe(400);
    expect(badOffset.json.error).toBe("input 'INPUT0': Invalid offset for shared memory region: 'bad': offset 4096 is not inside the 4096-byte region");
    const pastEnd = await postJson(`${t.url}/v2/models/mlp_gpu0/infer`, regionRequest('bad', 2, 2052));
    expect(pastEnd.status).toBe(400);
    expect(pastEnd.json.error).toContain("input 'INPUT0': Invalid offset + byte size for shared memory region: 'bad'");
    const sizeMismatch = await postJson(`${t.url}/v2/models/mlp_gpu0/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, IN], parameters: shm('bad', 0, IN * 4 - 4) }],
    });
    expect(sizeMismatch.status).toBe(400);
    expect(sizeMismatch.json.error).toContain("input byte size mismatch for input 'INPUT0' for model 'mlp_gpu0'. Expected 1024, got 1020");

    // An output region too small for its rows: that request fails with the sizes; the one batched with it is answered.
    const small = {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, IN], parameters: shm('bad', 0, 2 * IN * 4) }],
      outputs: [{ name: 'OUTPUT0', parameters: shm('bad', 2 * IN * 4, OUT * 4) }],
    };
    const [tooSmall, fine] = await Promise.all([
      postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, small),
      postJson(`${t.url}/v2/models/mlp_gpu0_batched/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, IN], data: rows.flat() }] }),
    ]);
    expect(tooSmall.status).toBe(400);
    expect(tooSmall.json.error).toBe(
      "shared memory size specified with the request for output 'OUTPUT0' (64 bytes) should be at least 128 bytes to hold the results",
    );
    expect(fine.status).toBe(200);
    closeTo(fine.json.outputs[0].data, rows.flatMap(mlpRow));
    // Nothing was written to the region.
    expect(Array.from(floats.subarray(2 * IN, 2 * IN + OUT))).toEqual(new Array(OUT).fill(0));
  });
});
