/**
 * KIND_GPU and KIND_AUTO instance groups of ONNX models on a machine without a usable GPU
 * (no CUDA execution provider for onnxruntime-node, no NVIDIA driver): KIND_GPU fails the
 * load saying exactly what is missing and how to install it, KIND_AUTO serves on the CPU
 * and logs why; and the GPU memory flags of `nereid serve`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cudaProbe } from '../../src/backends/index.js';
import { UsageError } from '../../src/cli/flag-parser.js';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';
import { createLogger } from '../../src/core/index.js';
import { instancePlacements } from '../../src/repository/instance-groups.js';
import type { ModelInstanceGroup } from '../../src/repository/model-config.js';
import { mlpRow } from '../helpers/reference-models.js';
import { addModel, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const ortPackage = dirname(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')));
const providerLibrary = join(ortPackage, 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
const noGpuHere = !existsSync(providerLibrary) && cudaProbe().devices.length === 0;

const MLP = (instanceGroup: string) => `platform: "onnxruntime_onnx"
max_batch_size: 8
input [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ 256 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 16 ] }]
${instanceGroup}
`;

const repo = scratchRepository();
let t: TestServer;
let log = '';

beforeAll(async () => {
  addModel(repo.root, 'gpu', { from: 'mlp', config: MLP('instance_group [{ kind: KIND_GPU gpus: [ 0 ] }]') });
  addModel(repo.root, 'auto', { from: 'mlp', config: MLP('instance_group [{ count: 1 kind: KIND_AUTO }]') });
  const logger = createLogger(0, { write: (line: string) => (log += line) });
  t = await startTestServer({ modelRepositories: [repo.root], logger });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

describe.runIf(noGpuHere)('GPU instance groups without a GPU', () => {
  it('fail a KIND_GPU load saying the CUDA provider is not installed, how to install it, and that there is no device', () => {
    const entry = t.server.registry.index().find((e) => e.name === 'gpu');
    expect(entry).toMatchObject({
      state: 'UNAVAILABLE',
      reason:
        "instance group 'gpu_0' of model 'gpu' asks for KIND_GPU but no GPU is available to the onnxruntime backend of this server: " +
        `onnxruntime-node's CUDA execution provider is not installed (${providerLibrary} does not exist); ` +
        "install it with 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node' on a machine that can download from api.nuget.org " +
        '(the provider needs CUDA 12 and cuDNN 9 at run time); and no CUDA device: ' +
        cudaProbe().reason +
        ' (use KIND_CPU, or KIND_AUTO to fall back to the CPU)',
    });
  });

  it('serve a KIND_AUTO group on the CPU, with a log line that says why', async () => {
    const { json: config } = await getJson(`${t.url}/v2/models/auto/config`);
    expect(config.instance_group).toEqual([expect.objectContaining({ name: 'auto_0', kind: 'KIND_CPU', count: 1, gpus: [] })]);
    expect(log).toContain(`instance group 'auto_0' (KIND_AUTO) runs on the CPU: onnxruntime-node's CUDA execution provider is not installed`);
    const row = Array.from({ length: 256 }, (_, i) => Math.sin(i) / 4);
    const { status, json } = await postJson(`${t.url}/v2/models/auto/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], data: row }] });
    expect(status).toBe(200);
    const expected = mlpRow(row);
    (json.outputs[0].data as number[]).forEach((value, i) => expect(value).toBeCloseTo(expected[i], 4));
  });
});

describe('instance placement', () => {
  const group = (kind: ModelInstanceGroup['kind'], count: number, gpus: number[], name = 'g'): ModelInstanceGroup => ({
    name,
    kind,
    count,
    gpus,
    secondary_devices: [],
    profile: [],
    passive: false,
    host_policy: '',
    rate_limiter: undefined,
  });

  it("starts count instances on each GPU of a KIND_GPU group, as Triton does, and none on a GPU for KIND_CPU", () => {
    expect(instancePlacements([group('KIND_GPU', 2, [0, 3]), group('KIND_CPU', 1, [], 'c')])).toEqual([
      { name: 'g_0', gpu: 0 },
      { name: 'g_1', gpu: 0 },
      { name: 'g_2', gpu: 3 },
      { name: 'g_3', gpu: 3 },
      { name: 'c_0' },
    ]);
  });
});

describe('GPU memory flags', () => {
  const serve = (...args: string[]) => {
    const options = serveOptionsFromArgs(['--model-repository', '/m', ...args]);
    if (options.help) throw new Error('help');
    return options;
  };

  it("take Triton's defaults and values", () => {
    expect(serve()).toMatchObject({ pinnedMemoryPoolBytes: 268435456, cudaMemoryPoolBytes: [] });
    expect(serve('--pinned-memory-pool-byte-size=0', '--cuda-memory-pool-byte-size', '0:1048576', '--cuda-memory-pool-byte-size=1:0')).toMatchObject({
      pinnedMemoryPoolBytes: 0,
      cudaMemoryPoolBytes: [
        [0, 1048576],
        [1, 0],
      ],
    });
  });

  it('name what is wrong', () => {
    expect(() => serve('--cuda-memory-pool-byte-size=0=64')).toThrow(new UsageError("--cuda-memory-pool-byte-size must be '<gpu>:<bytes>' with whole numbers, got '0=64'"));
    expect(() => serve('--pinned-memory-pool-byte-size=-1')).toThrow(new UsageError('--pinned-memory-pool-byte-size must be 0 or more, got -1'));
  });
});
