/**
 * Triton's per-response statistics of decoupled models (`response_stats` of the statistics
 * extension), with the bundled repeat_int32: for each response index, how many responses
 * there succeeded, failed, came as a final flag alone (empty_response) or closed a cancelled
 * request, with their compute_infer / compute_output counts and durations, the same over
 * HTTP and gRPC, aggregated over requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc, InferenceClient, rawBytes, type Message } from '../helpers/grpc-client.js';
import { pendingRequests, until } from '../helpers/slow-model.js';
import { exampleModels, getJson, startTestServer, type TestServer } from '../helpers/test-server.js';

let t: TestServer;
let client: InferenceClient;

beforeAll(async () => {
  t = await startTestServer(exampleModels('repeat_int32', 'simple'));
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
});

function repeatRequest(values: number[], delays: number[] = values.map(() => 1)): Message {
  return {
    model_name: 'repeat_int32',
    inputs: [
      { name: 'IN', datatype: 'INT32', shape: [values.length] },
      { name: 'DELAY', datatype: 'UINT32', shape: [delays.length] },
      { name: 'WAIT', datatype: 'UINT32', shape: [1] },
    ],
    raw_input_contents: [rawBytes(Int32Array.from(values)), Buffer.from(Uint32Array.from(delays).buffer), Buffer.from(Uint32Array.of(0).buffer)],
  };
}

/** Sends one request on its own stream and waits for the stream's end. */
function stream(request: Message): Promise<Message[]> {
  const call = client.stream();
  const messages: Message[] = [];
  call.on('data', (m: Message) => messages.push(m));
  const done = new Promise<Message[]>((resolve, reject) => {
    call.on('status', () => resolve(messages));
    call.on('error', reject);
  });
  call.write(request);
  call.end();
  return done;
}

type Counts = Record<'compute_infer' | 'compute_output' | 'success' | 'fail' | 'empty_response' | 'cancel', number>;
const KINDS = ['compute_infer', 'compute_output', 'success', 'fail', 'empty_response', 'cancel'] as const;
const zero = (): Counts => ({ compute_infer: 0, compute_output: 0, success: 0, fail: 0, empty_response: 0, cancel: 0 });

/** What the test expects, per response index, as it sends. */
const expected: Counts[] = [];
function expect_(index: number, kind: 'success' | 'fail' | 'empty_response' | 'cancel'): void {
  while (expected.length <= index) expected.push(zero());
  const e = expected[index];
  e[kind]++;
  if (kind !== 'cancel') e.compute_infer++;
  if (kind === 'success' || kind === 'fail') e.compute_output++;
}

/** response_stats over HTTP, after checking that gRPC reports the same. */
async function responseStats(model: string): Promise<Record<string, Record<string, { count: number; ns: number }>>> {
  const http = (await getJson(`${t.url}/v2/models/${model}/stats`)).json.model_stats[0].response_stats;
  const grpcStats = (await client.call('ModelStatistics', { name: model })).model_stats[0].response_stats;
  expect(grpcStats).toEqual(http);
  return http;
}

async function check(): Promise<void> {
  const stats = await responseStats('repeat_int32');
  expect(Object.keys(stats)).toEqual(expected.map((_, i) => String(i)));
  expected.forEach((counts, i) => {
    const at = stats[String(i)];
    for (const kind of KINDS) expect(at[kind].count, `response ${i} ${kind}`).toBe(counts[kind]);
    for (const kind of KINDS) expect(at[kind].ns).toBeGreaterThanOrEqual(0);
    // success and fail are infer + output time; an empty response is infer time only (each rounded apart).
    const infer = at.compute_infer.ns;
    const output = at.compute_output.ns;
    expect(Math.abs(at.success.ns + at.fail.ns + at.empty_response.ns - (infer + output))).toBeLessThanOrEqual(3);
  });
}

describe('response_stats of a decoupled model', () => {
  it('is empty before any request, and for a model that is not decoupled', async () => {
    expect(await responseStats('repeat_int32')).toEqual({});
    const simple = Array.from({ length: 16 }, () => 1);
    expect((await fetch(`${t.url}/v2/models/simple/infer`, { method: 'POST', body: JSON.stringify({ inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: simple },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: simple },
    ] }) })).status).toBe(200);
    expect(await responseStats('simple')).toEqual({});
  });

  it('counts each response under its index, and the final flag alone as an empty response after them', async () => {
    const messages = await stream(repeatRequest([4, 5, 6, 7]));
    expect(messages.filter((m) => m.error_message === '')).toHaveLength(4);
    for (let i = 0; i < 4; i++) expect_(i, 'success');
    expect_(4, 'empty_response');
    await check();
  });

  it('aggregates over requests of different lengths', async () => {
    await stream(repeatRequest([1, 2]));
    expect_(0, 'success');
    expect_(1, 'success');
    expect_(2, 'empty_response');
    await stream(repeatRequest([9, 9, 9, 9, 9, 9]));
    for (let i = 0; i < 6; i++) expect_(i, 'success');
    expect_(6, 'empty_response');
    await check();
  });

  it('counts an error response as a failure, and a request without responses as an empty response at index 0', async () => {
    const [error] = await stream(repeatRequest([1, 2], [0]));
    expect(error.error_message).toContain('expected IN and DELAY shape to match');
    expect_(0, 'fail');
    await stream(repeatRequest([], []));
    expect_(0, 'empty_response');
    await check();
  });

  it('counts the close of a request its client cancelled as a cancel, after the responses sent', async () => {
    const call = client.stream();
    const first = new Promise<void>((resolve) => call.once('data', () => resolve()));
    const ended = new Promise<void>((resolve) => {
      call.on('error', (err: grpc.ServiceError) => {
        expect(err.code).toBe(grpc.status.CANCELLED);
        resolve();
      });
    });
    call.write(repeatRequest([1, 2, 3], [0, 150, 150]));
    await first;
    call.cancel();
    await ended;
    // The model does not look at isCancelled(): it sends its other responses and then its final flag.
    await until(() => pendingRequests(t.server, 'repeat_int32') === 0, 5_000, 'the cancelled request to close');
    for (let i = 0; i < 3; i++) expect_(i, 'success');
    expect_(3, 'cancel');
    await check();
  });
});
