/**
 * A decoupled model that streams after execute() returned learns that its client went
 * away: request.isCancelled() and responseSender.isCancelled() turn true when the client
 * cancels its gRPC stream or drops its HTTP generate_stream connection, and stay false
 * for a client that stays.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceClient, int32sOf, type Message } from '../helpers/grpc-client.js';
import { addJavaScriptModel, waitFor } from '../helpers/javascript-models.js';
import { scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
const scratch = scratchRepository();
const seen = join(scratch.root, 'seen');
let t: TestServer;
let client: InferenceClient;

/**
 * Per request: returns at once, then every 5 ms sends OUT = 1 while the client is there,
 * IN[0] times (0: until the client goes, at most 20 s). When it sees the client gone it
 * leaves a file `cancelled-<IN[1]>` holding what request.isCancelled() said, and ends.
 */
const TICKER = `import { writeFileSync } from 'node:fs';
let dir = '';
export function initialize(args) { dir = args.config.parameters.seen_dir.string_value; }
export function execute(requests) {
  for (const request of requests) {
    const sender = request.responseSender;
    const [limit, tag] = request.inputs.IN.data;
    let sent = 0;
    const until = Date.now() + 20000;
    const timer = setInterval(() => {
      if (sender.isCancelled()) {
        clearInterval(timer);
        writeFileSync(dir + '/cancelled-' + tag, String(request.isCancelled()));
        sender.send(undefined, { final: true });
      } else if ((limit > 0 && sent === limit) || Date.now() > until) {
        clearInterval(timer);
        sender.send(undefined, { final: true });
      } else {
        sent++;
        sender.send({ outputs: { OUT: { shape: [1], data: Int32Array.of(sent) } } });
      }
    }, 5);
  }
}
`;

beforeAll(async () => {
  mkdirSync(seen);
  addJavaScriptModel(
    repo.root,
    'ticker',
    `backend: "javascript"
max_batch_size: 0
model_transaction_policy { decoupled: true }
input [{ name: "IN", data_type: TYPE_INT32, dims: [ 2 ] }]
output [{ name: "OUT", data_type: TYPE_INT32, dims: [ 1 ] }]
instance_group [{ count: 1, kind: KIND_CPU }]
parameters { key: "seen_dir" value: { string_value: "${seen}" } }
`,
    { source: TICKER },
  );
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
  scratch.cleanup();
});

const request = (limit: number, tag: number): Message => ({
  model_name: 'ticker',
  inputs: [{ name: 'IN', datatype: 'INT32', shape: [2], contents: { int_contents: [limit, tag] } }],
});

describe('isCancelled() of a decoupled request after execute() returned', () => {
  it('turns true when the client cancels its stream, for the sender and the request alike', async () => {
    const stream = client.stream();
    stream.on('error', () => {});
    let responses = 0;
    stream.on('data', (message: Message) => {
      if (message.infer_response && ++responses === 2) stream.cancel();
    });
    stream.write(request(0, 7));
    await waitFor(() => readdirSync(seen).includes('cancelled-7'), 'the model to see the cancellation');
    expect(readFileSync(join(seen, 'cancelled-7'), 'utf8')).toBe('true');
    expect(responses).toBeGreaterThanOrEqual(2);
  });

  it('turns true when an HTTP client of generate_stream disconnects', async () => {
    const controller = new AbortController();
    const response = await fetch(`${t.url}/v2/models/ticker/generate_stream`, { method: 'POST', body: JSON.stringify({ IN: [0, 9] }), signal: controller.signal });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^data: \{"model_name":"ticker","model_version":"1","OUT":1\}\n\n/);
    controller.abort();
    await reader.cancel().catch(() => {});
    await waitFor(() => readdirSync(seen).includes('cancelled-9'), 'the model to see the disconnect');
    expect(readFileSync(join(seen, 'cancelled-9'), 'utf8')).toBe('true');
  });

  it('stays false for a client that stays: every response arrives, then the final flag', async () => {
    const stream = client.stream();
    const values: number[] = [];
    const finished = new Promise<boolean>((resolve, reject) => {
      stream.on('data', (message: Message) => {
        const response = message.infer_response;
        if (message.error_message) return reject(new Error(message.error_message));
        if (response.raw_output_contents.length > 0) values.push(int32sOf(response.raw_output_contents[0])[0]);
        if (response.parameters?.triton_final_response?.bool_param) resolve(true);
      });
      stream.on('error', reject);
    });
    stream.write({ ...request(5, 8), parameters: { triton_enable_empty_final_response: { bool_param: true } } });
    expect(await finished).toBe(true);
    stream.end();
    expect(values).toEqual([1, 2, 3, 4, 5]);
    expect(readdirSync(seen)).not.toContain('cancelled-8');
  });
});
