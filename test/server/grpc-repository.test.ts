/** RepositoryIndex, RepositoryModelLoad and RepositoryModelUnload through a real grpc-js client. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerOptions } from '../../src/server/index.js';
import { int32Sum } from '../helpers/reference-models.js';
import { grpc, InferenceClient, int32sOf } from '../helpers/grpc-client.js';
import { addModel, EXAMPLE_REPOSITORY, scratchRepository, startTestServer } from '../helpers/test-server.js';

const { status } = grpc;
const SIMPLE_CONFIG = readFileSync(join(EXAMPLE_REPOSITORY, 'simple', 'config.pbtxt'), 'utf8');

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(options: Partial<ServerOptions>): Promise<InferenceClient> {
  const { root, cleanup } = scratchRepository();
  cleanups.push(cleanup);
  addModel(root, 'simple', { from: 'simple', config: SIMPLE_CONFIG });
  const t = await startTestServer({ modelRepositories: [root], ...options });
  cleanups.push(() => t.server.stop());
  const client = new InferenceClient(t.grpcTarget);
  cleanups.push(() => client.close());
  return client;
}

const simpleInfer = (model: string) => ({
  model_name: model,
  inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: new Array(16).fill(3) } })),
});

describe('model control mode none', () => {
  it('refuses load and unload with the registry reason', async () => {
    const client = await serve({});
    for (const method of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
      const error = await client.fail(method, { model_name: 'simple' });
      expect(error.code).toBe(status.UNAVAILABLE);
      expect(error.details).toBe(
        "explicit model load / unload is not allowed if polling is enabled (this server's model control mode is 'none'; start it with --model-control-mode=explicit)",
      );
    }
  });
});

describe('model control mode explicit', () => {
  it('loads and unloads a model on request', async () => {
    const client = await serve({ modelControlMode: 'explicit' });
    expect((await client.call('RepositoryIndex', {})).models).toEqual([{ name: 'simple', version: '', state: 'UNAVAILABLE', reason: 'not loaded' }]);
    expect(await client.call('ModelReady', { name: 'simple' })).toEqual({ ready: false });

    expect(await client.call('RepositoryModelLoad', { model_name: 'simple' })).toEqual({});
    expect(await client.call('ModelReady', { name: 'simple' })).toEqual({ ready: true });
    const response = await client.call('ModelInfer', simpleInfer('simple'));
    expect(int32sOf(response.raw_output_contents[0])).toEqual(int32Sum(new Array(16).fill(3), new Array(16).fill(3)));
    expect((await client.call('RepositoryIndex', { ready: true })).models).toEqual([{ name: 'simple', version: '1', state: 'READY', reason: '' }]);

    expect(await client.call('RepositoryModelUnload', { model_name: 'simple' })).toEqual({});
    expect(await client.call('ModelReady', { name: 'simple' })).toEqual({ ready: false });
    expect((await client.call('RepositoryIndex', { ready: true })).models).toEqual([]);
  });

  it('loads a model given as config and file parameters, the file bytes sent raw', async () => {
    const client = await serve({ modelControlMode: 'explicit' });
    const onnx = readFileSync(join(EXAMPLE_REPOSITORY, 'simple', '1', 'model.onnx'));
    const config = JSON.stringify({
      name: 'uploaded',
      platform: 'onnxruntime_onnx',
      max_batch_size: 8,
      input: ['INPUT0', 'INPUT1'].map((name) => ({ name, data_type: 'TYPE_INT32', dims: [16] })),
      output: ['OUTPUT0', 'OUTPUT1'].map((name) => ({ name, data_type: 'TYPE_INT32', dims: [16] })),
    });
    await client.call('RepositoryModelLoad', {
      model_name: 'uploaded',
      parameters: { config: { string_param: config }, 'file:1/model.onnx': { bytes_param: onnx } },
    });
    const response = await client.call('ModelInfer', simpleInfer('uploaded'));
    expect(response.model_name).toBe('uploaded');
    expect(int32sOf(response.raw_output_contents[1])).toEqual(new Array(16).fill(0));
  });

  it('answers a model the repositories lack, and a repository name, with precise errors', async () => {
    const client = await serve({ modelControlMode: 'explicit' });
    const missing = await client.fail('RepositoryModelLoad', { model_name: 'nope' });
    expect(missing.code).not.toBe(status.OK);
    expect(missing.details).toContain('nope');
    const named = await client.fail('RepositoryModelLoad', { repository_name: 'models', model_name: 'simple' });
    expect(named.code).toBe(status.UNIMPLEMENTED);
    expect(named.details).toMatch(/^RepositoryModelLoad is not implemented: .*'repository_name'/);
  });
});
