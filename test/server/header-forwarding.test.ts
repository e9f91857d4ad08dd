/** --http-header-forward-pattern and --grpc-header-forward-pattern: matching headers reach the model as request parameters. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/flag-parser.js';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';
import { forwardsHeader } from '../../src/server/header-forwarding.js';
import { InferenceClient, unpackStrings } from '../helpers/grpc-client.js';
import { addJavaScriptModel, PARAMETER_ECHO_CONFIG, PARAMETER_ECHO_SOURCE } from '../helpers/javascript-models.js';
import { scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

function patternsFrom(args: string[]) {
  const parsed = serveOptionsFromArgs(['--model-repository', repo.root, ...args]);
  if (parsed.help) throw new Error('unexpected --help');
  return { httpHeaderForwardPattern: parsed.httpHeaderForwardPattern, grpcHeaderForwardPattern: parsed.grpcHeaderForwardPattern };
}

beforeAll(async () => {
  addJavaScriptModel(repo.root, 'echo', PARAMETER_ECHO_CONFIG, { source: PARAMETER_ECHO_SOURCE });
  t = await startTestServer({
    modelRepositories: [repo.root],
    ...patternsFrom(['--http-header-forward-pattern', '^x-fwd-', '--grpc-header-forward-pattern', '(?-i)^x-grpc-.*$']),
  });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t.server.stop();
  repo.cleanup();
});

/** The parameters the model saw for one HTTP request. */
async function httpParameters(headers: Record<string, string>, parameters?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2], data: [1, 2] }] };
  if (parameters) body.parameters = parameters;
  const res = await fetch(`${t.url}/v2/models/echo/infer`, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await res.json();
  expect(res.status, JSON.stringify(json)).toBe(200);
  return JSON.parse(json.outputs.find((o: { name: string }) => o.name === 'PARAMETERS').data[0]);
}

const grpcRequest = (parameters: Record<string, unknown> = {}) => ({
  model_name: 'echo',
  parameters,
  inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2], contents: { int_contents: [1, 2] } }],
});
const parametersOfGrpcAnswer = (response: any): Record<string, unknown> => JSON.parse(unpackStrings(response.raw_output_contents[1])[0].toString());

describe('HTTP', () => {
  it('forwards matching headers, case-insensitively, as string parameters and nothing else', async () => {
    const seen = await httpParameters({ 'X-Fwd-User': 'alice', 'x-fwd-count': '3', 'X-Other': 'no', 'content-type': 'application/json' });
    expect(seen).toEqual({ 'x-fwd-user': 'alice', 'x-fwd-count': '3' });
  });

  it('lets a forwarded header replace a body parameter of the same name and keeps the others', async () => {
    const seen = await httpParameters({ 'x-fwd-user': 'from-header' }, { 'x-fwd-user': 'from-body', keep: 7 });
    expect(seen).toEqual({ 'x-fwd-user': 'from-header', keep: 7 });
  });

  it('sends nothing when no header matches', async () => {
    expect(await httpParameters({ 'x-unrelated': '1' })).toEqual({});
  });
});

describe('gRPC', () => {
  it('forwards matching metadata on ModelInfer', async () => {
    const response = await client.call('ModelInfer', grpcRequest({ keep: { int64_param: 5 } }), { metadata: { 'x-grpc-tenant': 'acme', 'x-fwd-user': 'http-only' } });
    expect(parametersOfGrpcAnswer(response)).toEqual({ 'x-grpc-tenant': 'acme', keep: 5 });
  });

  it('forwards the stream\'s metadata to every request on ModelStreamInfer', async () => {
    const stream = client.stream({ 'x-grpc-tenant': 'acme' });
    const answers: any[] = [];
    const done = new Promise<void>((resolve) =>
      stream.on('data', (message: any) => {
        answers.push(message);
        if (answers.length === 2) resolve();
      }),
    );
    stream.write(grpcRequest());
    stream.write(grpcRequest());
    await done;
    stream.end();
    for (const answer of answers) expect(parametersOfGrpcAnswer(answer.infer_response)).toEqual({ 'x-grpc-tenant': 'acme' });
  });
});

describe('flags', () => {
  it('refuses an invalid regular expression at start-up, naming the flag', () => {
    expect(() => patternsFrom(['--http-header-forward-pattern', 'x-(unclosed'])).toThrow(UsageError);
    expect(() => patternsFrom(['--grpc-header-forward-pattern', '[z-a]'])).toThrow(/--grpc-header-forward-pattern: invalid regular expression/);
  });

  it('is case-insensitive unless the pattern starts with (?-i), as in Triton', () => {
    const { httpHeaderForwardPattern, grpcHeaderForwardPattern } = patternsFrom(['--http-header-forward-pattern', 'X-FWD', '--grpc-header-forward-pattern', '(?-i)X-FWD']);
    expect(httpHeaderForwardPattern!.test('x-fwd-a')).toBe(true);
    expect(grpcHeaderForwardPattern!.test('x-fwd-a')).toBe(false);
    expect(grpcHeaderForwardPattern!.test('X-FWD-a')).toBe(true);
  });

  it('never forwards the reserved parameter names', async () => {
    // uWebSockets.js refuses header names with '_', so triton_* can only come as gRPC metadata.
    expect(forwardsHeader(/.*/, 'triton_enable_empty_final_response')).toBe(false);
    expect(forwardsHeader(/.*/, 'sequence_id')).toBe(false);
    expect(forwardsHeader(/.*/, 'x-sequence-id')).toBe(true);
  });

  it('never forwards the reserved scheduling parameters', async () => {
    const wide = await startTestServer({ modelRepositories: [repo.root], ...patternsFrom(['--http-header-forward-pattern', '.*']) });
    try {
      const res = await fetch(`${wide.url}/v2/models/echo/infer`, {
        method: 'POST',
        headers: { priority: 'high', timeout: 'x', 'x-ok': 'yes' },
        body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2], data: [1, 2] }] }),
      });
      const json = await res.json();
      expect(res.status, JSON.stringify(json)).toBe(200);
      const seen = JSON.parse(json.outputs[1].data[0]);
      expect(seen['x-ok']).toBe('yes');
      expect(seen).not.toHaveProperty('priority');
      expect(seen).not.toHaveProperty('timeout');
    } finally {
      await wide.server.stop();
    }
  });
});
