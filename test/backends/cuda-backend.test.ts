/**
 * `backend: "cuda"` through a real server on a machine without a GPU: KIND_CPU instances
 * run the CPU reference and answer as the model should, KIND_AUTO falls back to them with
 * a log line, KIND_GPU fails the load with the probe's reason, and bad configurations and
 * unsupported models fail with theirs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cudaProbe } from '../../src/backends/index.js';
import { createLogger } from '../../src/core/index.js';
import { onnxBytes } from '../helpers/onnx-builder.js';
import { mlpRow } from '../helpers/reference-models.js';
import { addModel, getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const config = (extra: string) => `backend: "cuda"
max_batch_size: 8
input [{ name: "INPUT0", data_type: TYPE_FP32, dims: [ 256 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 16 ] }]
${extra}
`;
const precision = (p: string) => `parameters { key: "precision" value: { string_value: "${p}" } }`;
const noDevice = cudaProbe().devices.length === 0;

const repo = scratchRepository();
let t: TestServer;
let log = '';

beforeAll(async () => {
  addModel(repo.root, 'mlp_fp16', { from: 'mlp', config: config(`instance_group [{ count: 1 kind: KIND_CPU }]\n${precision('FP16')}`) });
  addModel(repo.root, 'mlp_auto', { from: 'mlp', config: config('instance_group [{ name: "mlp_auto" count: 1 kind: KIND_AUTO }]') });
  addModel(repo.root, 'mlp_gpu', { from: 'mlp', config: config('instance_group [{ count: 1 kind: KIND_GPU gpus: [ 0 ] }]') });
  addModel(repo.root, 'mlp_fp8', { from: 'mlp', config: config(`instance_group [{ count: 1 kind: KIND_CPU }]\n${precision('FP8')}`) });
  mkdirSync(join(repo.root, 'conv', '1'), { recursive: true });
  writeFileSync(join(repo.root, 'conv', 'config.pbtxt'), 'backend: "cuda"\nmax_batch_size: 8\ninstance_group [{ kind: KIND_CPU }]\n');
  writeFileSync(
    join(repo.root, 'conv', '1', 'model.onnx'),
    onnxBytes({
      inputs: [{ name: 'X', dims: ['batch', 3, 8, 8] }],
      outputs: [{ name: 'Y', dims: ['batch', 4] }],
      nodes: [
        { op: 'Conv', inputs: ['X', 'W'], outputs: ['c'] },
        { op: 'MaxPool', inputs: ['c'], outputs: ['p'] },
        { op: 'Flatten', inputs: ['p'], outputs: ['Y'] },
      ],
    }),
  );
  const logger = createLogger(0, { write: (line: string) => (log += line) });
  t = await startTestServer({ modelRepositories: [repo.root], logger });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

const rows = [0, 1, 2].map((r) => Array.from({ length: 256 }, (_, i) => Math.cos(i * 0.1 + r) / 2));
const infer = (model: string, data: number[][]) =>
  postJson(`${t.url}/v2/models/${model}/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [data.length, 256], data: data.flat() }] });
const reason = (model: string) => t.server.registry.index().find((e) => e.name === model)?.reason;

describe('backend "cuda"', () => {
  it('serves a KIND_CPU instance in FP16 within FP16 tolerance of the exact model', async () => {
    const { status, json } = await infer('mlp_fp16', rows);
    expect(status).toBe(200);
    expect(json.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'FP32', shape: [3, 16] });
    const expected = rows.flatMap(mlpRow);
    const scale = Math.max(...expected.map(Math.abs));
    (json.outputs[0].data as number[]).forEach((value, i) => expect(Math.abs(value - expected[i])).toBeLessThanOrEqual(5e-3 * scale));
  });

  it('reports the model signature and refuses malformed requests naming the input', async () => {
    const { json } = await getJson(`${t.url}/v2/models/mlp_fp16`);
    expect(json.inputs).toEqual([{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 256] }]);
    const short = await postJson(`${t.url}/v2/models/mlp_fp16/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], data: [1, 2] }] });
    expect(short.status).toBe(400);
    expect(short.json.error).toContain('INPUT0');
    // The instance is unharmed.
    expect((await infer('mlp_fp16', rows.slice(0, 1))).status).toBe(200);
  });

  it.runIf(noDevice)('falls back to the CPU for KIND_AUTO, saying why', async () => {
    const { json } = await getJson(`${t.url}/v2/models/mlp_auto/config`);
    expect(json.instance_group).toEqual([expect.objectContaining({ kind: 'KIND_CPU', count: 1 })]);
    expect(log).toContain(`instance group 'mlp_auto' (KIND_AUTO) runs on the CPU: no CUDA device: ${cudaProbe().reason}`);
    const { json: answer } = await infer('mlp_auto', rows.slice(1));
    const expected = rows.slice(1).flatMap(mlpRow);
    (answer.outputs[0].data as number[]).forEach((value, i) => expect(value).toBeCloseTo(expected[i], 4));
  });

  it.runIf(noDevice)('fails a KIND_GPU load with the reason there is no device', () => {
    expect(reason('mlp_gpu')).toBe(
      `instance group 'mlp_gpu_0' of model 'mlp_gpu' asks for KIND_GPU but no GPU is available to the cuda backend of this server: no CUDA device: ${cudaProbe().reason} (use KIND_CPU, or KIND_AUTO to fall back to the CPU)`,
    );
  });

  it('fails the load of a bad precision and of unsupported operators, with the reason', () => {
    expect(reason('mlp_fp8')).toBe("parameter 'precision' must be one of FP32, FP16, BF16, got 'FP8'");
    expect(reason('conv')).toContain(
      'the model uses operators the cuda backend does not support: Conv, MaxPool (it runs MatMul, Gemm, Add, Relu, Sigmoid, Tanh, Softmax, Identity, Reshape, Flatten)',
    );
  });
});
