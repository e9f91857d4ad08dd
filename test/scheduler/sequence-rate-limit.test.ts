/**
 * --rate-limit execution_count applies to sequence models too: an execution of a sequence
 * waits until its instance's rate_limiter resources are free, and the rate limiter never
 * moves a sequence off the instance that holds it (every request of a sequence still
 * reaches the instance that saw its earlier requests, with its implicit state).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveOptionsFromArgs } from '../../src/cli/serve-command.js';
import { addJavaScriptModel, Gate, record, recorderConfig, waitFor } from '../helpers/javascript-models.js';
import { STICKY_SEQUENCE_MODEL, stickySequenceConfig } from '../helpers/sticky-sequence-model.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const stickyConfig = (strategy: string) => stickySequenceConfig(strategy, '{ count: 2, kind: KIND_CPU, rate_limiter { resources [ { name: "R", global: true, count: 1 } ] } }');

const repo = scratchRepository();
const scratch = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  // The holder needs both copies of R: while it runs, no sequence model instance can.
  addJavaScriptModel(repo.root, 'holder', recorderConfig('instance_group [{ count: 1, kind: KIND_CPU, rate_limiter { resources [ { name: "R", global: true, count: 2 } ] } }]'));
  addJavaScriptModel(repo.root, 'sticky_oldest', stickyConfig('oldest { max_candidate_sequences: 4 }'), { source: STICKY_SEQUENCE_MODEL });
  addJavaScriptModel(repo.root, 'sticky_direct', stickyConfig('direct { }'), { source: STICKY_SEQUENCE_MODEL });
  const parsed = serveOptionsFromArgs(['--model-repository', repo.root, '--rate-limit', 'execution_count']);
  if (parsed.help) throw new Error('unexpected --help');
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true, rateLimit: parsed.rateLimit, rateLimitResources: parsed.rateLimitResources });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
  scratch.cleanup();
});

const queued = (model: string) => t.server.registry.resolve(model).requestScheduler.queuedCount;

async function step(model: string, value: number, id: number, start: boolean, end: boolean) {
  const { status, json } = await postJson(`${t.url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] }],
    parameters: { sequence_id: id, sequence_start: start, sequence_end: end },
  });
  if (status !== 200) throw new Error(`${model} sequence ${id}: ${status} ${JSON.stringify(json)}`);
  const out = (name: string) => json.outputs.find((o: { name: string }) => o.name === name).data[0];
  return { instance: out('INSTANCE') as string, seen: out('SEEN') as number, total: out('TOTAL') as number };
}

describe('the rate limiter and the sequence batcher', () => {
  it('keeps a sequence request queued while another model holds the resources its instance needs', async () => {
    for (const model of ['sticky_oldest', 'sticky_direct']) {
      const gate = new Gate(scratch.root);
      const held = record(t.url, 'holder', [-1], 1, { gate: gate.path });
      await gate.started();
      const waiting = step(model, 5, 11, true, false);
      await waitFor(() => queued(model) === 1, `the ${model} request to wait for resource R`);
      gate.open();
      expect((await held).status).toBe(200);
      expect(await waiting).toMatchObject({ seen: 1, total: 5 });
      expect((await step(model, 2, 11, false, true)).total).toBe(7);
    }
  });

  it('never moves a sequence off its instance, with many sequences interleaved on both instances', async () => {
    for (const model of ['sticky_oldest', 'sticky_direct']) {
      const SEQUENCES = 8;
      const STEPS = 5;
      const runs = await Promise.all(
        Array.from({ length: SEQUENCES }, async (_, s) => {
          const answers = [];
          for (let k = 0; k < STEPS; k++) answers.push(await step(model, s + 1, 100 + s, k === 0, k === STEPS - 1));
          return answers;
        }),
      );
      const instances = new Set<string>();
      runs.forEach((answers, s) => {
        expect(answers.map((a) => a.seen)).toEqual([1, 2, 3, 4, 5]);
        expect(answers.map((a) => a.total)).toEqual([1, 2, 3, 4, 5].map((k) => k * (s + 1)));
        expect(new Set(answers.map((a) => a.instance)).size).toBe(1);
        instances.add(answers[0].instance);
      });
      // Four slots per instance: eight sequences took both instances.
      expect(instances.size).toBe(2);
    }
  });
});
