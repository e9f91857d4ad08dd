/** Deadlines, client cancellation of unary calls, and message size limits of the gRPC frontend. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatsOf, grpc, InferenceClient, rawBytes, type Message } from '../helpers/grpc-client.js';
import { addSlowModel, pendingRequests, slowRequest, until } from '../helpers/slow-model.js';
import { addModel, EXAMPLE_REPOSITORY, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const { status } = grpc;
const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  addModel(repo.root, 'identity_fp32', { from: 'identity_fp32', config: readFileSync(join(EXAMPLE_REPOSITORY, 'identity_fp32', 'config.pbtxt'), 'utf8') });
  addSlowModel(repo.root);
  t = await startTestServer({ modelRepositories: [repo.root] });
  // The client lifts its own limits so that only the server's are tested.
  client = new InferenceClient(t.grpcTarget, { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
});
afterAll(async () => {
  client.close();
  await t.server.stop();
  repo.cleanup();
});

const identityRequest = (values: Float32Array) => ({
  model_name: 'identity_fp32',
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, values.length] }],
  raw_input_contents: [rawBytes(values)],
});

describe('deadlines', () => {
  it('answers DEADLINE_EXCEEDED when the deadline passes while the request is queued, and drops it', async () => {
    const long = client.call('ModelInfer', slowRequest(4096, 'long'));
    // Unary calls race one another on the wire: let the long one reach the instance first.
    await until(() => pendingRequests(t.server, 'slow_mlp') === 1, 5000, 'the long request to start');
    const fillers = Array.from({ length: 12 }, (_, i) => client.call('ModelInfer', slowRequest(1, `f${i}`)));
    await until(() => pendingRequests(t.server, 'slow_mlp') === 13, 5000, 'the requests to queue behind it');
    const started = Date.now();
    const error = await client.fail('ModelInfer', slowRequest(1, 'late'), { deadlineMs: 60 });
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    // Answered at its deadline, not when the long request ahead of it ends.
    expect(Date.now() - started).toBeLessThan(1000);
    await Promise.all([long, ...fillers]);
    await until(() => pendingRequests(t.server, 'slow_mlp') === 0, 5000, 'the server to go idle');
  });

  it('answers normally within a deadline that leaves enough time', async () => {
    const response = await client.call('ModelInfer', identityRequest(Float32Array.from([1, 2, 3])), { deadlineMs: 5000 });
    expect(floatsOf(response.raw_output_contents[0])).toEqual([1, 2, 3]);
  });
});

describe('client cancellation', () => {
  it('drops the queued unary requests a client cancels, and stays healthy', async () => {
    const long = client.call('ModelInfer', slowRequest(4096, 'long'));
    await until(() => pendingRequests(t.server, 'slow_mlp') === 1, 5000, 'the long request to start');
    const calls: grpc.ClientUnaryCall[] = [];
    const outcomes: Promise<number>[] = [];
    for (let i = 0; i < 40; i++) {
      outcomes.push(
        new Promise((resolve) => {
          calls.push(client.stub.ModelInfer(slowRequest(1, `c${i}`), (err: grpc.ServiceError | null) => resolve(err ? err.code : status.OK)));
        }),
      );
    }
    await until(() => pendingRequests(t.server, 'slow_mlp') >= 35, 5000, 'the requests to queue');
    const queued = pendingRequests(t.server, 'slow_mlp');
    for (const call of calls) call.cancel();
    expect(new Set(await Promise.all(outcomes))).toEqual(new Set([status.CANCELLED]));
    await until(() => pendingRequests(t.server, 'slow_mlp') < queued / 2, 150, 'the cancelled requests to be dropped');
    await long;
    await until(() => pendingRequests(t.server, 'slow_mlp') === 0, 5000, 'the server to go idle');
    expect(await client.call('ServerReady')).toEqual({ ready: true });
  });
});

describe('message size', () => {
  it('accepts a 64 MiB tensor with the default limit', async () => {
    const values = new Float32Array(16 * 1024 * 1024);
    values[0] = 1.5;
    values[values.length - 1] = -2;
    const response: Message = await client.call('ModelInfer', identityRequest(values));
    const out: Buffer = response.raw_output_contents[0];
    expect(out.length).toBe(64 * 1024 * 1024);
    expect(out.readFloatLE(0)).toBe(1.5);
    expect(out.readFloatLE(out.length - 4)).toBe(-2);
  });

  it('refuses a message over --grpc-max-message-size with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const small = await startTestServer({ modelRepositories: [repo.root], grpcMaxMessageSize: 64 * 1024 });
    const smallClient = new InferenceClient(small.grpcTarget);
    try {
      const over = await smallClient.fail('ModelInfer', identityRequest(new Float32Array(20_000)));
      expect(over.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(over.details).toMatch(/larger than max \(\d+ vs 65536\)/);
      const under = await smallClient.call('ModelInfer', identityRequest(new Float32Array(15_000).fill(0.5)));
      expect(floatsOf(under.raw_output_contents[0])).toHaveLength(15_000);
    } finally {
      smallClient.close();
      await small.server.stop();
    }
  });
});
