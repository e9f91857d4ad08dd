/** gRPC requests enter the same schedulers as HTTP ones: both frontends' requests share one dynamic batch. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { float32Sum } from '../helpers/reference-models.js';
import { floatsOf, InferenceClient, rawBytes, type Message } from '../helpers/grpc-client.js';
import { addModel, EXAMPLE_REPOSITORY, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  const config = readFileSync(join(EXAMPLE_REPOSITORY, 'add_sub', 'config.pbtxt'), 'utf8');
  // A batch of three goes at once; a smaller one waits up to 2 s for company.
  addModel(repo.root, 'add_sub', {
    from: 'add_sub',
    config: `${config}\ndynamic_batching { preferred_batch_size: [ 3 ] max_queue_delay_microseconds: 2000000 }\n`,
  });
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t?.server.stop();
  repo.cleanup();
});

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

it('puts an HTTP request, a unary gRPC request and a streamed one in the same batch', async () => {
  const inputs = [0, 1, 2].map((k) => ({ a: range(16, (i) => k * 100 + i), b: range(16, () => k) }));
  const grpcRequest = (k: number) => ({
    model_name: 'add_sub',
    id: `grpc-${k}`,
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [1, 16] },
      { name: 'INPUT1', datatype: 'FP32', shape: [1, 16] },
    ],
    raw_input_contents: [rawBytes(Float32Array.from(inputs[k].a)), rawBytes(Float32Array.from(inputs[k].b))],
  });

  const http = postJson(`${t.url}/v2/models/add_sub/infer`, {
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: inputs[0].a },
      { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: inputs[0].b },
    ],
  });
  const unary = client.call('ModelInfer', grpcRequest(1));
  const stream = client.stream();
  const streamed = new Promise<Message>((resolve, reject) => {
    stream.on('data', resolve);
    stream.on('error', reject);
  });
  stream.write(grpcRequest(2));

  const [httpAnswer, unaryAnswer, streamAnswer] = await Promise.all([http, unary, streamed]);
  stream.end();
  expect(httpAnswer.json.outputs[0].data).toEqual(float32Sum(inputs[0].a, inputs[0].b));
  expect(floatsOf(unaryAnswer.raw_output_contents[0])).toEqual(float32Sum(inputs[1].a, inputs[1].b));
  expect(streamAnswer.infer_response.id).toBe('grpc-2');
  expect(floatsOf(streamAnswer.infer_response.raw_output_contents[0])).toEqual(float32Sum(inputs[2].a, inputs[2].b));

  const stats = t.server.registry.resolve('add_sub').statistics;
  expect(stats.executionCount).toBe(1);
  expect(stats.batchStatistics().map((b) => b.batchSize)).toEqual([3]);
});
