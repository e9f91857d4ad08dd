/** Every RPC of inference.GRPCInferenceService other than inference, through a real grpc-js client. */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceClient, grpc, rawCall } from '../helpers/grpc-client.js';
import { addModel, CORE_EXAMPLE_MODELS, EXAMPLE_REPOSITORY, exampleModels, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const { status } = grpc;
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  t = await startTestServer(exampleModels(...CORE_EXAMPLE_MODELS));
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t.server.stop();
});

describe('the service definition', () => {
  it('declares every RPC of the KServe v2 / Triton protocol', () => {
    const methods = Object.keys(Object.getPrototypeOf(client.stub)).filter((name) => /^[A-Z]/.test(name)).sort();
    expect(methods).toEqual(
      [
        'ServerLive', 'ServerReady', 'ModelReady', 'ServerMetadata', 'ModelMetadata', 'ModelInfer', 'ModelStreamInfer',
        'ModelConfig', 'ModelStatistics', 'RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload',
        'SystemSharedMemoryStatus', 'SystemSharedMemoryRegister', 'SystemSharedMemoryUnregister',
        'CudaSharedMemoryStatus', 'CudaSharedMemoryRegister', 'CudaSharedMemoryUnregister', 'TraceSetting', 'LogSettings',
      ].sort(),
    );
  });
});

describe('health and metadata', () => {
  it('is live and ready', async () => {
    expect(await client.call('ServerLive')).toEqual({ live: true });
    expect(await client.call('ServerReady')).toEqual({ ready: true });
  });

  it('describes the server as HTTP does', async () => {
    const metadata = await client.call('ServerMetadata');
    const http = await (await fetch(`${t.url}/v2`)).json();
    expect(metadata).toEqual({ name: http.name, version: http.version, extensions: http.extensions });
  });

  it('reports each model ready, and an unknown model or version not ready, as Triton does', async () => {
    for (const name of ['simple', 'add_sub', 'identity_fp32', 'identity_bytes', 'mlp']) {
      expect(await client.call('ModelReady', { name })).toEqual({ ready: true });
      expect(await client.call('ModelReady', { name, version: '1' })).toEqual({ ready: true });
    }
    expect(await client.call('ModelReady', { name: 'nope' })).toEqual({ ready: false });
    expect(await client.call('ModelReady', { name: 'simple', version: '7' })).toEqual({ ready: false });
  });

  it('gives model metadata with the batch dimension, the same as HTTP', async () => {
    const metadata = await client.call('ModelMetadata', { name: 'simple' });
    const http = await (await fetch(`${t.url}/v2/models/simple`)).json();
    expect(metadata).toEqual(http);
    expect((await client.call('ModelMetadata', { name: 'identity_bytes', version: '1' })).inputs).toEqual([
      { name: 'INPUT0', datatype: 'BYTES', shape: [-1, -1] },
    ]);
  });

  it('returns the model configuration as the ModelConfig message', async () => {
    const { config } = await client.call('ModelConfig', { name: 'add_sub' });
    expect(config.name).toBe('add_sub');
    expect(config.platform).toBe('onnxruntime_onnx');
    expect(config.backend).toBe('onnxruntime');
    expect(config.max_batch_size).toBe(64);
    expect(config.input.map((i: { name: string; data_type: string; dims: number[] }) => [i.name, i.data_type, i.dims])).toEqual([
      ['INPUT0', 'TYPE_FP32', [16]],
      ['INPUT1', 'TYPE_FP32', [16]],
    ]);
    expect(config.instance_group[0]).toMatchObject({ count: 1, kind: 'KIND_CPU' });
    const { config: bytesConfig } = await client.call('ModelConfig', { name: 'identity_bytes', version: '1' });
    expect(bytesConfig.output[0]).toMatchObject({ name: 'OUTPUT0', data_type: 'TYPE_STRING', dims: [-1] });
  });

  it('lists the repository index', async () => {
    const { models } = await client.call('RepositoryIndex', {});
    expect(models).toEqual(
      readdirSync(EXAMPLE_REPOSITORY, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort((x, y) => x.localeCompare(y))
        .map((name) =>
          CORE_EXAMPLE_MODELS.includes(name)
            ? { name, version: '1', state: 'READY', reason: '' }
            : { name, version: '', state: 'UNAVAILABLE', reason: 'not loaded' },
        ),
    );
    const error = await client.fail('RepositoryIndex', { repository_name: 'other' });
    expect(error.code).toBe(status.UNIMPLEMENTED);
    expect(error.details).toContain(`'repository_name'`);
  });
});

describe('errors', () => {
  it('answers an unknown model or version with Triton message and INVALID_ARGUMENT', async () => {
    for (const method of ['ModelMetadata', 'ModelConfig']) {
      const unknown = await client.fail(method, { name: 'nope' });
      expect(unknown.code).toBe(status.INVALID_ARGUMENT);
      expect(unknown.details).toBe(`Request for unknown model: 'nope' is not found`);
      const version = await client.fail(method, { name: 'simple', version: '7' });
      expect(version.code).toBe(status.INVALID_ARGUMENT);
      expect(version.details).toBe(`Request for unknown model: 'simple' version 7 is not found`);
    }
    const infer = await client.fail('ModelInfer', { model_name: 'nope', inputs: [{ name: 'X', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }] });
    expect(infer.code).toBe(status.INVALID_ARGUMENT);
    expect(infer.details).toBe(`Request for unknown model: 'nope' is not found`);
    const http = await fetch(`${t.url}/v2/models/nope/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'X', datatype: 'FP32', shape: [1], data: [1] }] }),
    });
    expect((await http.json()).error).toBe(infer.details);
  });

  it('answers bytes that are not the request message with INVALID_ARGUMENT', async () => {
    const error = await rawCall(t.grpcTarget, 'ModelMetadata', Buffer.from([0xff, 0xff])).then(
      () => undefined,
      (err: grpc.ServiceError) => err,
    );
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/^the request is not a valid ModelMetadataRequest message: /);
    expect(await client.call('ServerLive')).toEqual({ live: true });
  });
});

describe('a repository with a model that fails to load', () => {
  let broken: TestServer;
  let brokenClient: InferenceClient;
  const repo = scratchRepository();

  beforeAll(async () => {
    addModel(repo.root, 'simple', { from: 'simple' });
    addModel(repo.root, 'broken', { from: 'simple', config: 'backend: "no_such_backend"\n' });
    broken = await startTestServer({ modelRepositories: [repo.root] });
    brokenClient = new InferenceClient(broken.grpcTarget);
  });
  afterAll(async () => {
    brokenClient.close();
    await broken.server.stop();
    repo.cleanup();
  });

  it('is live but not ready under strict readiness, and says why in the index', async () => {
    expect(await brokenClient.call('ServerLive')).toEqual({ live: true });
    expect(await brokenClient.call('ServerReady')).toEqual({ ready: false });
    expect(await brokenClient.call('ModelReady', { name: 'broken' })).toEqual({ ready: false });
    const { models } = await brokenClient.call('RepositoryIndex', {});
    expect(models.map((m: { name: string; state: string }) => [m.name, m.state])).toEqual([
      ['broken', 'UNAVAILABLE'],
      ['simple', 'READY'],
    ]);
    expect(models[0].reason).toContain('no_such_backend');
    const ready = await brokenClient.call('RepositoryIndex', { ready: true });
    expect(ready.models.map((m: { name: string }) => m.name)).toEqual(['simple']);
  });

  it('answers metadata of the failed model UNAVAILABLE with the reason', async () => {
    const error = await brokenClient.fail('ModelMetadata', { name: 'broken' });
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toContain('no_such_backend');
  });
});
