/** --http-restricted-api and --grpc-restricted-protocol: Triton's syntax, categories and refusals, over both protocols. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';
import { UsageError } from '../../src/cli/flag-parser.js';
import { httpRestrictedCategory } from '../../src/server/http/restricted-routes.js';
import { grpc, InferenceClient, unpackStrings } from '../helpers/grpc-client.js';
import { addJavaScriptModel, PARAMETER_ECHO_CONFIG, PARAMETER_ECHO_SOURCE } from '../helpers/javascript-models.js';
import { scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const repo = scratchRepository();
let t: TestServer;
let client: InferenceClient;

function restrictionsFrom(args: string[]) {
  const parsed = serveOptionsFromArgs(['--model-repository', repo.root, ...args]);
  if (parsed.help) throw new Error('unexpected --help');
  return { httpRestrictedApis: parsed.httpRestrictedApis, grpcRestrictedProtocols: parsed.grpcRestrictedProtocols };
}

beforeAll(async () => {
  addJavaScriptModel(repo.root, 'echo', PARAMETER_ECHO_CONFIG, { source: PARAMETER_ECHO_SOURCE });
  t = await startTestServer({
    modelRepositories: [repo.root],
    ...restrictionsFrom([
      '--http-restricted-api', 'model-repository,shared-memory:admin-key=secret',
      '--http-restricted-api', 'inference:infer-key=let-me-in',
      '--grpc-restricted-protocol', 'model-repository,shared-memory:admin-key=secret',
      '--grpc-restricted-protocol', 'inference:infer-key=let-me-in',
    ]),
  });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client.close();
  await t.server.stop();
  repo.cleanup();
});

const inferBody = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2], data: [1, 2] }] });
const grpcInfer = { model_name: 'echo', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2], contents: { int_contents: [1, 2] } }] };

async function http(path: string, init: RequestInit = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

describe('HTTP restricted APIs', () => {
  it('answers 403 with Triton\'s message when the header is missing or wrong, and serves the request with it', async () => {
    const missing = await http('/v2/repository/index', { method: 'POST', body: '{}' });
    expect(missing).toEqual({ status: 403, json: { error: "This API is restricted, expecting header 'admin-key'" } });
    const wrong = await http('/v2/repository/index', { method: 'POST', body: '{}', headers: { 'admin-key': 'guess' } });
    expect(wrong.status).toBe(403);
    const right = await http('/v2/repository/index', { method: 'POST', body: '{}', headers: { 'Admin-Key': 'secret' } });
    expect(right.status).toBe(200);
    expect(right.json.map((m: { name: string }) => m.name)).toEqual(['echo']);
  });

  it('restricts every endpoint of a category and leaves the others open', async () => {
    expect((await http('/v2/systemsharedmemory/status')).status).toBe(403);
    expect((await http('/v2/cudasharedmemory/status')).status).toBe(403);
    expect((await http('/v2/repository/models/echo/unload', { method: 'POST', body: '{}' })).status).toBe(403);
    expect((await http('/v2/systemsharedmemory/status', { headers: { 'admin-key': 'secret' } })).status).toBe(200);
    expect((await http('/v2/health/ready')).status).toBe(200);
    expect((await http('/v2')).status).toBe(200);
    expect((await http('/v2/models/echo')).status).toBe(200);
    expect((await http('/v2/models/echo/config')).status).toBe(200);
    expect((await http('/v2/models/echo/stats')).status).toBe(200);
  });

  it('gives each group its own header: the admin header does not open inference', async () => {
    const path = '/v2/models/echo/infer';
    const refused = await http(path, { method: 'POST', body: inferBody, headers: { 'admin-key': 'secret' } });
    expect(refused).toEqual({ status: 403, json: { error: "This API is restricted, expecting header 'infer-key'" } });
    const served = await http(path, { method: 'POST', body: inferBody, headers: { 'infer-key': 'let-me-in' } });
    expect(served.status).toBe(200);
    expect(served.json.outputs[0].data).toEqual([1, 2]);
    const versioned = await http('/v2/models/echo/versions/1/infer', { method: 'POST', body: inferBody });
    expect(versioned.status).toBe(403);
  });

  it('maps every endpoint path to its Triton category', () => {
    expect(httpRestrictedCategory('/v2/health/live')).toBe('health');
    expect(httpRestrictedCategory('/v2/models/m/versions/3/ready')).toBe('health');
    expect(httpRestrictedCategory('/v2')).toBe('metadata');
    expect(httpRestrictedCategory('/v2/models/infer')).toBe('metadata');
    expect(httpRestrictedCategory('/v2/models/m/versions/2')).toBe('metadata');
    expect(httpRestrictedCategory('/v2/models/m/infer')).toBe('inference');
    expect(httpRestrictedCategory('/v2/models/m/generate')).toBe('inference');
    expect(httpRestrictedCategory('/v2/models/m/versions/1/generate_stream')).toBe('inference');
    expect(httpRestrictedCategory('/v2/models/m/config')).toBe('model-config');
    expect(httpRestrictedCategory('/v2/models/stats')).toBe('statistics');
    expect(httpRestrictedCategory('/v2/models/m/versions/1/stats')).toBe('statistics');
    expect(httpRestrictedCategory('/v2/trace/setting')).toBe('trace');
    expect(httpRestrictedCategory('/v2/models/m/trace/setting')).toBe('trace');
    expect(httpRestrictedCategory('/v2/logging')).toBe('logging');
    expect(httpRestrictedCategory('/v2/repository/models/m/load')).toBe('model-repository');
    expect(httpRestrictedCategory('/v2/cudasharedmemory/region/r/register')).toBe('shared-memory');
    expect(httpRestrictedCategory('/v3/anything')).toBeUndefined();
  });
});

describe('gRPC restricted protocols', () => {
  it('answers PERMISSION_DENIED naming the triton-grpc-protocol- header, and serves the call with it', async () => {
    const refused = await client.fail('RepositoryIndex', {});
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(refused.details).toBe("This protocol is restricted, expecting header 'triton-grpc-protocol-admin-key'");
    // The bare key is not the gRPC header: it carries Triton's prefix.
    expect((await client.fail('RepositoryIndex', {}, { metadata: { 'admin-key': 'secret' } })).code).toBe(grpc.status.PERMISSION_DENIED);
    const served = await client.call('RepositoryIndex', {}, { metadata: { 'triton-grpc-protocol-admin-key': 'secret' } });
    expect(served.models.map((m: { name: string }) => m.name)).toEqual(['echo']);
    expect((await client.fail('SystemSharedMemoryStatus', {})).code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await client.fail('CudaSharedMemoryRegister', { name: 'r' })).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('leaves unrestricted RPCs open', async () => {
    expect((await client.call('ServerLive', {})).live).toBe(true);
    expect((await client.call('ModelMetadata', { name: 'echo' })).name).toBe('echo');
    expect((await client.call('ModelStatistics', { name: 'echo' })).model_stats).toHaveLength(1);
  });

  it('restricts ModelInfer and ModelStreamInfer with their own key', async () => {
    expect((await client.fail('ModelInfer', grpcInfer, { metadata: { 'triton-grpc-protocol-admin-key': 'secret' } })).code).toBe(grpc.status.PERMISSION_DENIED);
    const served = await client.call('ModelInfer', grpcInfer, { metadata: { 'triton-grpc-protocol-infer-key': 'let-me-in' } });
    expect(served.outputs[0].name).toBe('OUTPUT0');

    const refusedStream = client.stream();
    const ended = new Promise<grpc.ServiceError>((resolve) => refusedStream.on('error', resolve));
    refusedStream.write(grpcInfer);
    const error = await ended;
    expect(error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error.details).toBe("This protocol is restricted, expecting header 'triton-grpc-protocol-infer-key'");

    const stream = client.stream({ 'triton-grpc-protocol-infer-key': 'let-me-in' });
    const answer = new Promise<any>((resolve) => stream.once('data', resolve));
    stream.write(grpcInfer);
    const response = await answer;
    stream.end();
    expect(response.error_message).toBe('');
    expect(unpackStrings(response.infer_response.raw_output_contents[1]).length).toBe(1);
  });
});

describe('flag syntax', () => {
  const parse = (...values: string[]) => restrictionsFrom(values.flatMap((value) => ['--http-restricted-api', value]));

  it('accepts every Triton category', () => {
    const all = 'health,metadata,inference,shared-memory,model-config,model-repository,statistics,trace,logging';
    const { httpRestrictedApis } = parse(`${all}:k=v`);
    expect(Object.keys(httpRestrictedApis!)).toHaveLength(9);
  });

  it('refuses an unknown category, a category in two groups and a malformed value, naming the problem', () => {
    expect(() => parse('inferense:k=v')).toThrow(UsageError);
    expect(() => parse('inferense:k=v')).toThrow(/unknown restricted api 'inferense'/);
    expect(() => parse('inference:a=1', 'health,inference:b=2')).toThrow(/restricted api 'inference' can not be specified in multiple config groups/);
    expect(() => parse('inference')).toThrow(/--http-restricted-api option format is '<api list>:<key>=<value>'. Got inference/);
    expect(() => parse('inference:key=')).toThrow(/option format/);
    expect(() => restrictionsFrom(['--grpc-restricted-protocol', 'trace:k'])).toThrow(/--grpc-restricted-protocol option format is '<protocol list>:<key>=<value>'/);
  });
});
