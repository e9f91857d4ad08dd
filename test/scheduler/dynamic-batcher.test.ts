/**
 * Batch formation, priorities and queue policies of the dynamic batcher, observed
 * through the batch-recorder JavaScript model served over HTTP: every answer says
 * which execution it was part of and how many rows that execution had. A gate holds
 * the model's single instance busy while requests queue in a known order, so that
 * the batches formed afterwards are deterministic.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceResponse } from '../../src/core/index.js';
import { addJavaScriptModel, Gate, pending, record, recorderConfig, waitFor, type RecordedAnswer } from '../helpers/javascript-models.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const ONE_INSTANCE = 'instance_group [{ count: 1, kind: KIND_CPU }]';
const MODELS: Record<string, string> = {
  preferred: `${ONE_INSTANCE}\ndynamic_batching { preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 30000000 }`,
  delay: `${ONE_INSTANCE}\ndynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 1000000 }`,

  greedy: `${ONE_INSTANCE}\ndynamic_batching { }`,
  ordered: 'instance_group [{ count: 2, kind: KIND_CPU }]\ndynamic_batching { preserve_ordering: true }',
  unordered: 'instance_group [{ count: 2, kind: KIND_CPU }]\ndynamic_batching { }',
  priority: `${ONE_INSTANCE}\ndynamic_batching { preferred_batch_size: [ 1 ] priority_levels: 2 default_priority_level: 2 }`,
  reject: `${ONE_INSTANCE}
dynamic_batching {
  preferred_batch_size: [ 1 ]
  default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 1000000 allow_timeout_override: true }
}`,
  delayed: `${ONE_INSTANCE}
dynamic_batching {
  preferred_batch_size: [ 1 ]
  default_queue_policy { timeout_action: DELAY allow_timeout_override: true }
}`,
  bounded: `${ONE_INSTANCE}\ndynamic_batching { preferred_batch_size: [ 1 ] default_queue_policy { max_queue_size: 2 } }`,
  cancel: `${ONE_INSTANCE}\ndynamic_batching { preferred_batch_size: [ 1 ] }`,
};

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  for (const [name, extra] of Object.entries(MODELS)) addJavaScriptModel(repo.root, name, recorderConfig(extra));
  // Inputs of one fixed shape: any requests may share a batch, without comparing their shapes.
  const fixedShape = recorderConfig(`${ONE_INSTANCE}\ndynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 60000000 }`);
  addJavaScriptModel(repo.root, 'gathering', fixedShape.replace('name: "INPUT0", data_type: TYPE_INT32, dims: [ -1 ]', 'name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ]'));
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

const ints = (n: number, base: number) => Array.from({ length: n }, (_, i) => base + i);
const send = (model: string, values: number[], rows = 1, parameters?: Record<string, string | number | boolean>) =>
  record(t.url, model, values, rows, parameters);
const statistics = (model: string) => t.server.registry.resolve(model).statistics;

/** Starts a request that holds the model's instance until the returned gate opens. */
async function block(model: string, rows = 1): Promise<{ gate: Gate; answer: Promise<RecordedAnswer> }> {
  const gate = new Gate(repo.root);
  const answer = send(model, ints(rows, -100), rows, { gate: gate.path });
  await gate.started();
  return { gate, answer };
}

/** Sends requests one after another, each queued before the next is sent, so that their queue order is known. */
async function queueInOrder(model: string, requests: Array<() => Promise<RecordedAnswer>>): Promise<Array<Promise<RecordedAnswer>>> {
  const answers: Array<Promise<RecordedAnswer>> = [];
  for (const request of requests) {
    const before = pending(t.server, model);
    answers.push(request());
    await waitFor(() => pending(t.server, model) === before + 1, `a request to ${model} to be queued`);
  }
  return answers;
}

describe('batch formation', () => {
  it('goes as soon as requests of several rows, arriving at an idle instance, make a preferred size', async () => {
    const answers = await queueInOrder('gathering', [() => send('gathering', [0]), () => send('gathering', [1, 2], 2)]);
    // Three rows wait (60 s here, past the test's timeout) for a fourth.
    expect(pending(t.server, 'gathering')).toBe(2);
    const last = await send('gathering', [3]);
    const all = [...(await Promise.all(answers)), last];
    expect(all.map((a) => a.batchRows)).toEqual([4, 4, 4]);
    expect(new Set(all.map((a) => a.execution)).size).toBe(1);
    expect(all.map((a) => a.output)).toEqual([[0], [1, 2], [3]]);
  });

  it('dispatches at the largest reachable preferred size without waiting for the delay', async () => {
    const { gate, answer } = await block('preferred', 4);
    const answers = await queueInOrder('preferred', ints(7, 0).map((k) => () => send('preferred', [k])));
    gate.open();
    expect((await answer).batchRows).toBe(4);
    const done = await Promise.all(answers.slice(0, 6));
    expect(done.map((a) => a.batchRows)).toEqual([4, 4, 4, 4, 2, 2]);
    expect(new Set(done.slice(0, 4).map((a) => a.execution)).size).toBe(1);
    expect(done[4].execution).toBe(done[5].execution);
    expect(done[4].execution).toBe(done[0].execution + 1);
    done.forEach((a, k) => expect(a.output).toEqual([k]));

    // One request is left, below every preferred size: it waits (30 s here) for company.
    expect(pending(t.server, 'preferred')).toBe(1);
    const company = await send('preferred', [7]);
    const last = await answers[6];
    expect([last.batchRows, company.batchRows]).toEqual([2, 2]);
    expect(last.execution).toBe(company.execution);
    expect([last.output, company.output]).toEqual([[6], [7]]);

    const stats = statistics('preferred');
    expect(stats.batchStatistics().map((b) => [b.batchSize, b.computeInfer.count])).toEqual([
      [2, 2],
      [4, 2],
    ]);
    expect(stats.executionCount).toBe(4);
    expect(stats.inferenceCount).toBe(12);
    expect(stats.success.count).toBe(9);
    expect(stats.queue.count).toBe(9);
  });

  it('waits at most max_queue_delay_microseconds for a batch to grow', async () => {
    const start = performance.now();
    const two = await Promise.all([send('delay', [1]), send('delay', [2])]);
    const waited = performance.now() - start;
    expect(two.map((a) => a.batchRows)).toEqual([2, 2]);
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(waited).toBeLessThan(5000);

    const fullStart = performance.now();
    const four = await Promise.all(ints(4, 10).map((k) => send('delay', [k])));
    expect(four.map((a) => a.batchRows)).toEqual([4, 4, 4, 4]);
    expect(four.map((a) => a.output)).toEqual([[10], [11], [12], [13]]);
    expect(performance.now() - fullStart).toBeLessThan(1000);
  });

  it('never exceeds max_batch_size and never splits a request of several rows', async () => {
    const { gate, answer } = await block('greedy', 8);
    const sizes = [3, 3, 3, 2];
    const answers = await queueInOrder(
      'greedy',
      sizes.map((rows, k) => () => send('greedy', ints(rows * 2, k * 100), rows)),
    );
    gate.open();
    expect((await answer).batchRows).toBe(8);
    const done = await Promise.all(answers);
    expect(done.map((a) => a.batchRows)).toEqual([6, 6, 5, 5]);
    done.forEach((a, k) => expect(a.output).toEqual(ints(sizes[k] * 2, k * 100)));
  });

  it('batches only requests whose non-batch shapes agree, skipping over others of the same priority', async () => {
    const { gate, answer } = await block('greedy', 8);
    const widths = [2, 2, 3, 2];
    const answers = await queueInOrder(
      'greedy',
      widths.map((width, k) => () => send('greedy', ints(width, k * 10))),
    );
    gate.open();
    await answer;
    const done = await Promise.all(answers);
    expect(done.map((a) => a.batchRows)).toEqual([3, 3, 1, 3]);
    expect(done[1].execution).toBe(done[0].execution);
    expect(done[3].execution).toBe(done[0].execution);
    expect(done[2].execution).toBe(done[0].execution + 1);
    done.forEach((a, k) => expect(a.output).toEqual(ints(widths[k], k * 10)));
  });

  it('answers in arrival order with preserve_ordering, and as soon as done without it', async () => {
    const scheduler = (model: string) => t.server.registry.resolve(model).requestScheduler;
    const request = (model: string, value: number, sleepMs: number) => ({
      model,
      inputs: [{ name: 'INPUT0', datatype: 'INT32' as const, shape: [1, 1], data: Int32Array.of(value) }],
      parameters: { sleep_ms: sleepMs },
    });
    for (const [model, expected] of [['ordered', [1, 2]], ['unordered', [2, 1]]] as const) {
      const order: number[] = [];
      const answered = (value: number) => (response: InferenceResponse) => {
        order.push(value);
        return response;
      };
      const slow = scheduler(model).enqueue(request(model, 1, 800)).then(answered(1));
      const fast = scheduler(model).enqueue(request(model, 2, 0)).then(answered(2));
      const [a, b] = await Promise.all([slow, fast]);
      expect(order, model).toEqual(expected);
      expect(Array.from(a.outputs[0].data as Int32Array)).toEqual([1]);
      expect(Array.from(b.outputs[0].data as Int32Array)).toEqual([2]);
      expect(a.outputs[3].data).not.toEqual(b.outputs[3].data);
    }
  });

  it('answers each request of a batch on its own: one failing does not fail the others', async () => {
    const { gate, answer } = await block('greedy', 8);
    const answers = await queueInOrder('greedy', [() => send('greedy', [1], 1, { fail: 'boom' }), () => send('greedy', [2])]);
    gate.open();
    await answer;
    const [failed, ok] = await Promise.all(answers);
    expect(failed.status).toBe(500);
    expect(failed.error).toBe("model 'greedy' version 1 failed: asked to fail: boom");
    expect(ok).toMatchObject({ status: 200, output: [2], batchRows: 2 });
  });
});

describe('priorities and queue policies', () => {
  it('serves higher priority levels first; priority 0 or out of range means the default level', async () => {
    const { gate, answer } = await block('priority');
    const answers = await queueInOrder('priority', [
      () => send('priority', [1]),
      () => send('priority', [2], 1, { priority: 2 }),
      () => send('priority', [3], 1, { priority: 1 }),
      () => send('priority', [4], 1, { priority: 9 }),
      () => send('priority', [5], 1, { priority: 0 }),
      () => send('priority', [6], 1, { priority: 1 }),
    ]);
    gate.open();
    const first = (await answer).execution;
    const done = await Promise.all(answers);
    const served = [...done].sort((a, b) => a.execution - b.execution).map((a) => a.output[0]);
    expect(served).toEqual([3, 6, 1, 2, 4, 5]);
    expect(Math.min(...done.map((a) => a.execution))).toBe(first + 1);
  });

  it("refuses a priority or timeout that is not an unsigned integer, in Triton's words", async () => {
    const bad = async (parameters: Record<string, unknown>) =>
      postJson(`${t.url}/v2/models/priority/infer`, {
        inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1] }],
        parameters,
      });
    expect(await bad({ priority: -1 })).toEqual({ status: 400, json: { error: "Unable to parse 'priority': expected an unsigned integer, got -1" } });
    expect(await bad({ priority: 'high' })).toEqual({ status: 400, json: { error: 'Unable to parse \'priority\': expected an unsigned integer, got "high"' } });
    expect(await bad({ timeout: 1.5 })).toEqual({ status: 400, json: { error: "Unable to parse 'timeout': expected an unsigned integer, got 1.5" } });
  });

  it('rejects a request at its queue deadline while the instance is still busy; a request may shorten but not lengthen it', async () => {
    const { gate, answer } = await block('reject');
    const timed = (parameters?: Record<string, number>) => {
      const start = performance.now();
      return send('reject', [1], 1, parameters).then((a) => ({ ...a, waited: performance.now() - start }));
    };
    const [byDefault, shorter, longer] = await Promise.all([timed(), timed({ timeout: 50_000 }), timed({ timeout: 10_000_000 })]);
    for (const rejected of [byDefault, shorter, longer]) {
      expect(rejected.status).toBe(503);
      expect(rejected.error).toMatch(/^Request timeout expired: request to model 'reject' version 1 waited in the queue past its timeout of \d+ microseconds$/);
    }
    expect(shorter.error).toContain('timeout of 50000 microseconds');
    expect(shorter.waited).toBeGreaterThanOrEqual(50);
    expect(shorter.waited).toBeLessThan(1000);
    for (const atDefault of [byDefault, longer]) {
      expect(atDefault.error).toContain('timeout of 1000000 microseconds');
      expect(atDefault.waited).toBeGreaterThanOrEqual(1000);
      expect(atDefault.waited).toBeLessThan(5000);
    }
    expect(pending(t.server, 'reject')).toBe(1);
    gate.open();
    expect((await answer).status).toBe(200);
    expect(statistics('reject').failures.REJECTED).toBe(3);
  });

  it('moves a request whose timeout expires behind the others under timeout_action DELAY', async () => {
    const { gate, answer } = await block('delayed');
    const late = send('delayed', [1], 1, { timeout: 20_000 });
    await waitFor(() => pending(t.server, 'delayed') === 2, 'the delayed request to be queued');
    await new Promise((resolve) => setTimeout(resolve, 60));
    const onTime = send('delayed', [2]);
    await waitFor(() => pending(t.server, 'delayed') === 3, 'the second request to be queued');
    gate.open();
    await answer;
    const [delayedAnswer, onTimeAnswer] = await Promise.all([late, onTime]);
    expect(delayedAnswer.status).toBe(200);
    expect(onTimeAnswer.execution).toBeLessThan(delayedAnswer.execution);
  });

  it('refuses at once, naming the model and the limit, a request that would exceed max_queue_size', async () => {
    const { gate, answer } = await block('bounded');
    const answers = await queueInOrder('bounded', [() => send('bounded', [1]), () => send('bounded', [2])]);
    const refused = await send('bounded', [3]);
    expect(refused.status).toBe(503);
    expect(refused.error).toBe("Exceeds maximum queue size: model 'bounded' version 1 already queues 2 request(s) (max_queue_size 2)");
    gate.open();
    await answer;
    expect((await Promise.all(answers)).map((a) => [a.status, a.output[0]])).toEqual([
      [200, 1],
      [200, 2],
    ]);
  });

  it('drops a queued request when its client disconnects: never executed, never a success', async () => {
    const { gate, answer } = await block('cancel');
    const controller = new AbortController();
    const abandoned = fetch(`${t.url}/v2/models/cancel/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1] }] }),
      signal: controller.signal,
    }).catch((err: Error) => err.name);
    await waitFor(() => pending(t.server, 'cancel') === 2, 'the request to be queued');
    controller.abort();
    expect(await abandoned).toBe('AbortError');
    await waitFor(() => pending(t.server, 'cancel') === 1, 'the abandoned request to leave the queue');
    gate.open();
    expect((await answer).execution).toBe(1);
    expect((await send('cancel', [2])).execution).toBe(2);
    const stats = statistics('cancel');
    expect(stats.failures.CANCELED).toBe(1);
    expect(stats.success.count).toBe(2);
    expect(stats.inferenceCount).toBe(2);
  });
});

describe('shutdown', () => {
  it('answers the requests a batcher holds for a fuller batch when the server stops', async () => {
    const local = scratchRepository();
    addJavaScriptModel(local.root, 'slow', recorderConfig(`${ONE_INSTANCE}\ndynamic_batching { max_queue_delay_microseconds: 1000000 }`));
    const server = await startTestServer({ modelRepositories: [local.root], exitOnError: true });
    try {
      const answer = record(server.url, 'slow', [5]);
      await waitFor(() => pending(server.server, 'slow') === 1, 'the request to be queued');
      await server.server.stop();
      expect(await answer).toMatchObject({ status: 200, output: [5], batchRows: 1 });
    } finally {
      await server.server.stop();
      local.cleanup();
    }
  });
});
