import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONVNET_CHANNELS, CONVNET_CLASSES, CONVNET_SIZE } from '../../model_repository/convnet-weights.js';
import { mulberry32 } from '../../model_repository/mlp-weights.js';
import { InferenceClient, floatsOf, rawBytes } from '../helpers/grpc-client.js';
import { addModel, EXAMPLE_REPOSITORY, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

/** convnet, the bundled compute-heavy model, served with dynamic batching: its answers are those of an in-process ONNX Runtime session. */
const PIXELS = CONVNET_CHANNELS * CONVNET_SIZE * CONVNET_SIZE;
const ROWS = 6;
const scratch = scratchRepository();
let t: TestServer;
let client: InferenceClient;
let session: ort.InferenceSession;
let images: Float32Array;
let expected: Float32Array;

beforeAll(async () => {
  const config = readFileSync(join(EXAMPLE_REPOSITORY, 'convnet', 'config.pbtxt'), 'utf8');
  addModel(scratch.root, 'convnet', { from: 'convnet', config: `${config}\ndynamic_batching { preferred_batch_size: [ 3 ] max_queue_delay_microseconds: 5000000 }\n` });
  t = await startTestServer({ modelRepositories: [scratch.root] });
  client = new InferenceClient(t.grpcTarget);
  const next = mulberry32(77);
  images = Float32Array.from({ length: ROWS * PIXELS }, () => next() * 2 - 1);
  session = await ort.InferenceSession.create(join(EXAMPLE_REPOSITORY, 'convnet', '1', 'model.onnx'));
  const out = await session.run({ INPUT0: new ort.Tensor('float32', images, [ROWS, CONVNET_CHANNELS, CONVNET_SIZE, CONVNET_SIZE]) });
  expected = out.OUTPUT0.data as Float32Array;
});

afterAll(async () => {
  client?.close();
  await session?.release();
  await t?.server.stop();
  scratch.cleanup();
});

const image = (row: number) => images.subarray(row * PIXELS, (row + 1) * PIXELS);
const expectedRow = (row: number) => Array.from(expected.subarray(row * CONVNET_CLASSES, (row + 1) * CONVNET_CLASSES));

function expectClose(actual: number[], want: number[], label: string): void {
  expect(actual).toHaveLength(want.length);
  actual.forEach((value, k) => expect(Math.abs(value - want[k]), `${label} output ${k}: ${value} vs ${want[k]}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[k]))));
}

describe('convnet through the server', () => {
  it('answers concurrent one-row requests over gRPC and HTTP as in-process ONNX Runtime does, batched together', async () => {
    const grpcRows = [0, 1, 2].map(async (row) => {
      const response = await client.call('ModelInfer', {
        model_name: 'convnet',
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, CONVNET_CHANNELS, CONVNET_SIZE, CONVNET_SIZE] }],
        raw_input_contents: [rawBytes(image(row))],
      });
      expect(response.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'FP32', shape: [1, CONVNET_CLASSES] });
      expectClose(floatsOf(response.raw_output_contents[0]), expectedRow(row), `gRPC row ${row}`);
    });
    const httpRows = [3, 4, 5].map(async (row) => {
      const { status, json } = await postJson(`${t.url}/v2/models/convnet/infer`, {
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, CONVNET_CHANNELS, CONVNET_SIZE, CONVNET_SIZE], data: Array.from(image(row)) }],
      });
      expect(status).toBe(200);
      expect(json.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'FP32', shape: [1, CONVNET_CLASSES] });
      expectClose(json.outputs[0].data, expectedRow(row), `HTTP row ${row}`);
    });
    await Promise.all([...grpcRows, ...httpRows]);
    const statistics = t.server.registry.resolve('convnet').statistics;
    expect(statistics.inferenceCount).toBe(ROWS);
    // The batcher waits (up to 5 s) for three rows, so the six requests run as two batches of three.
    expect(statistics.executionCount).toBe(2);
  });

  it('refuses an image of the wrong size, naming the input, while the requests around it are answered', async () => {
    const refused = client.fail('ModelInfer', {
      model_name: 'convnet',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, CONVNET_CHANNELS, 16, 16] }],
      raw_input_contents: [rawBytes(image(0).subarray(0, CONVNET_CHANNELS * 256))],
    });
    const answered = [0, 2, 5].map(async (row) => {
      const response = await client.call('ModelInfer', {
        model_name: 'convnet',
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, CONVNET_CHANNELS, CONVNET_SIZE, CONVNET_SIZE] }],
        raw_input_contents: [rawBytes(image(row))],
      });
      expectClose(floatsOf(response.raw_output_contents[0]), expectedRow(row), `row ${row} beside the refusal`);
    });
    const error = await refused;
    expect(error.code).toBe(3);
    expect(error.details).toContain('INPUT0');
    await Promise.all(answered);
  });
});
