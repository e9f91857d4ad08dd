/**
 * --rate-limit execution_count with instance_group { rate_limiter { resources priority } }:
 * an execution waits in its model's queue until its instance's resources are free,
 * global resources are shared across models, priority orders the waiting instances, and
 * a group asking for more than --rate-limit-resource gives fails to load.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/flag-parser.js';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { addJavaScriptModel, Gate, pending, record, recorderConfig, waitFor } from '../helpers/javascript-models.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

/** One instance that needs `count` copies of resource R (global or per device) with the given priority. */
const limited = (count: number, options: { global?: boolean; priority?: number } = {}) =>
  recorderConfig(
    `instance_group [{ count: 1, kind: KIND_CPU, rate_limiter { resources [ { name: "R", global: ${options.global ?? true}, count: ${count} } ] priority: ${options.priority ?? 1} } }]`,
  );

const repo = scratchRepository();
const scratch = scratchRepository();
let t: TestServer;
let client: InferenceClient;

function rateLimitFrom(args: string[]) {
  const parsed = serveOptionsFromArgs(['--model-repository', repo.root, ...args]);
  if (parsed.help) throw new Error('unexpected --help');
  return { rateLimit: parsed.rateLimit, rateLimitResources: parsed.rateLimitResources };
}

beforeAll(async () => {
  addJavaScriptModel(repo.root, 'holder', limited(2));
  addJavaScriptModel(repo.root, 'small', limited(1));
  addJavaScriptModel(repo.root, 'urgent', limited(2, { priority: 1 }));
  addJavaScriptModel(repo.root, 'patient', limited(2, { priority: 3 }));
  addJavaScriptModel(repo.root, 'local', limited(2, { global: false }));
  addJavaScriptModel(repo.root, 'free', recorderConfig('instance_group [{ count: 1, kind: KIND_CPU }]'));
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true, ...rateLimitFrom(['--rate-limit', 'execution_count']) });
  client = new InferenceClient(t.grpcTarget);
});
afterAll(async () => {
  client?.close();
  await t?.server.stop();
  repo.cleanup();
  scratch.cleanup();
});

const queued = (server: TestServer, model: string) => server.server.registry.resolve(model).requestScheduler.queuedCount;

/** Starts a request on `model` that holds its instance (and so its resources) until the gate opens. */
async function hold(server: TestServer, model: string): Promise<{ gate: Gate; answer: ReturnType<typeof record> }> {
  const gate = new Gate(scratch.root);
  const answer = record(server.url, model, [-1], 1, { gate: gate.path });
  await gate.started();
  return { gate, answer };
}

describe('resources', () => {
  it('keeps an execution in its queue while another model holds the global resource it needs (HTTP)', async () => {
    const { gate, answer } = await hold(t, 'holder');
    const waiting = record(t.url, 'small', [7]);
    // Without the rate limiter the request would go to the idle instance at once.
    await waitFor(() => queued(t, 'small') === 1, 'the request to wait for resource R');
    // A model without rate_limiter resources is not held back.
    expect((await record(t.url, 'free', [1])).status).toBe(200);
    expect(queued(t, 'small')).toBe(1);
    gate.open();
    expect((await answer).status).toBe(200);
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.output).toEqual([7]);
    expect(queued(t, 'small')).toBe(0);
  });

  it('does the same for gRPC requests', async () => {
    const { gate, answer } = await hold(t, 'holder');
    const waiting = client.call('ModelInfer', {
      model_name: 'small',
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], contents: { int_contents: [9] } }],
      outputs: [{ name: 'OUTPUT0' }],
    });
    await waitFor(() => queued(t, 'small') === 1, 'the gRPC request to wait for resource R');
    gate.open();
    await answer;
    const response = await waiting;
    expect(response.outputs[0].name).toBe('OUTPUT0');
  });

  it('counts a per-device resource apart from a global one of the same name', async () => {
    const { gate, answer } = await hold(t, 'holder');
    // 'local' needs R on device 0, which nothing holds: it runs.
    expect((await record(t.url, 'local', [3])).status).toBe(200);
    gate.open();
    await answer;
  });

  it('gives freed resources to the waiting instance with the better priority first', async () => {
    const { gate, answer } = await hold(t, 'holder');
    const order: string[] = [];
    const patient = record(t.url, 'patient', [1]).then((a) => (order.push('patient'), a));
    await waitFor(() => queued(t, 'patient') === 1, 'the patient request to wait');
    const urgent = record(t.url, 'urgent', [2]).then((a) => (order.push('urgent'), a));
    await waitFor(() => queued(t, 'urgent') === 1, 'the urgent request to wait');
    gate.open();
    await Promise.all([answer, patient, urgent]);
    // Both need all of R: the second can start only once the first has finished.
    expect(order).toEqual(['urgent', 'patient']);
  });

  it('lets the waiting requests of a model leave when their clients disconnect, and keeps serving', async () => {
    const { gate, answer } = await hold(t, 'holder');
    const controller = new AbortController();
    const abandoned = fetch(`${t.url}/v2/models/small/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1] }] }),
      signal: controller.signal,
    }).catch((err: Error) => err.name);
    await waitFor(() => queued(t, 'small') === 1, 'the request to wait');
    controller.abort();
    expect(await abandoned).toBe('AbortError');
    await waitFor(() => pending(t.server, 'small') === 0, 'the abandoned request to leave');
    gate.open();
    await answer;
    expect((await record(t.url, 'small', [5])).output).toEqual([5]);
  });
});

describe('reload', () => {
  it('keeps serving a model reloaded in place: its new instances get the resources', async () => {
    const local = scratchRepository();
    addJavaScriptModel(local.root, 'reloaded', limited(2));
    const server = await startTestServer({
      modelRepositories: [local.root],
      modelControlMode: 'explicit',
      loadModels: ['reloaded'],
      allowGrpc: false,
      ...rateLimitFrom(['--rate-limit', 'execution_count']),
    });
    try {
      expect((await record(server.url, 'reloaded', [1])).status).toBe(200);
      // A changed config is reloaded: the new load registers its instances before the old
      // ones leave, under the same names.
      writeFileSync(join(local.root, 'reloaded', 'config.pbtxt'), limited(2, { priority: 2 }));
      expect((await postJson(`${server.url}/v2/repository/models/reloaded/load`, {})).status).toBe(200);
      const res = await fetch(`${server.url}/v2/models/reloaded/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [2] }] }),
        signal: AbortSignal.timeout(20_000),
      });
      expect(res.status).toBe(200);
    } finally {
      await server.server.stop();
      local.cleanup();
    }
  });
});

describe('--rate-limit off', () => {
  it('ignores rate_limiter settings', async () => {
    const off = await startTestServer({ modelRepositories: [repo.root], exitOnError: true, allowGrpc: false, ...rateLimitFrom([]) });
    try {
      const { gate, answer } = await hold(off, 'holder');
      expect((await record(off.url, 'small', [4])).output).toEqual([4]);
      gate.open();
      await answer;
    } finally {
      await off.server.stop();
    }
  });
});

describe('--rate-limit-resource', () => {
  it('fails the load of a model that needs more than the server has, with Triton\'s message, over HTTP and gRPC', async () => {
    const local = scratchRepository();
    addJavaScriptModel(local.root, 'greedy', limited(3));
    addJavaScriptModel(local.root, 'modest', limited(2));
    const server = await startTestServer({ modelRepositories: [local.root], ...rateLimitFrom(['--rate-limit=execution_count', '--rate-limit-resource', 'R:2']) });
    const grpcClient = new InferenceClient(server.grpcTarget);
    try {
      const message = 'Resource count for "R" is limited to 2 which will prevent scheduling of one or more model instances, the minimum required count is 3';
      const { json } = await postJson(`${server.url}/v2/repository/index`, {});
      expect(json).toContainEqual({ name: 'greedy', version: '1', state: 'UNAVAILABLE', reason: message });
      expect(json.find((m: { name: string }) => m.name === 'modest').state).toBe('READY');
      const index = await grpcClient.call('RepositoryIndex', {});
      expect(index.models.find((m: { name: string }) => m.name === 'greedy').reason).toBe(message);
      expect((await record(server.url, 'modest', [1])).status).toBe(200);
    } finally {
      grpcClient.close();
      await server.server.stop();
      local.cleanup();
    }
  });

  it('parses Triton\'s syntax and refuses malformed values', () => {
    expect(rateLimitFrom(['--rate-limit', 'EXECUTION_COUNT', '--rate-limit-resource', 'R1:10', '--rate-limit-resource', 'R2:5:1'])).toEqual({
      rateLimit: 'execution_count',
      rateLimitResources: [
        { name: 'R1', count: 10 },
        { name: 'R2', count: 5, device: 1 },
      ],
    });
    expect(() => rateLimitFrom(['--rate-limit', 'sometimes'])).toThrow(UsageError);
    expect(() => rateLimitFrom(['--rate-limit-resource', 'R1'])).toThrow(/--rate-limit-resource option format is '<resource_name>:<count>:<device>' or '<resource_name>:<count>'. Got R1/);
    expect(() => rateLimitFrom(['--rate-limit-resource', 'R1:many'])).toThrow(/the count must be a whole number/);
    expect(() => rateLimitFrom(['--rate-limit-resource', 'R1:1:2:3'])).toThrow(UsageError);
  });
});
