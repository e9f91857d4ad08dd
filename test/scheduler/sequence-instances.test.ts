/**
 * A sequence stays on its instance: a JavaScript sequence model with three instances,
 * each keeping its own count of the requests it has seen per correlation ID, answers
 * many interleaved sequences from concurrent clients. Every request of a sequence must
 * reach the instance that saw the sequence's earlier requests. The model also takes the
 * control inputs and an implicit state, as Triton's Python backend models do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { STICKY_SEQUENCE_MODEL, stickySequenceConfig } from '../helpers/sticky-sequence-model.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const config = (strategy: string) => stickySequenceConfig(strategy, '{ count: 3, kind: KIND_CPU }');

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  addJavaScriptModel(repo.root, 'sticky_oldest', config('oldest { max_candidate_sequences: 3 max_queue_delay_microseconds: 1000 }'), { source: STICKY_SEQUENCE_MODEL });
  addJavaScriptModel(repo.root, 'sticky_direct', config('direct { }'), { source: STICKY_SEQUENCE_MODEL });
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

interface Step {
  instance: string;
  seen: number;
  started: number;
  total: number;
}

async function step(model: string, id: number, value: number, start: boolean, end: boolean): Promise<Step> {
  const { status, json } = await postJson(`${t.url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] }],
    parameters: { sequence_id: id, sequence_start: start, sequence_end: end },
  });
  expect(status, JSON.stringify(json)).toBe(200);
  const out = Object.fromEntries(json.outputs.map((o: { name: string; data: unknown[] }) => [o.name, o.data[0]]));
  expect(out.TOTAL_OUT, 'the state output is not an output of the config: the client never sees it').toBeUndefined();
  return { instance: out.INSTANCE as string, seen: out.SEEN as number, started: out.STARTED as number, total: out.TOTAL as number };
}

/** Runs `sequences` sequences of `steps` requests each, all at once, each client sending its next request when answered. */
async function interleaved(model: string, sequences: number, steps: number, firstId: number): Promise<Step[][]> {
  return Promise.all(
    Array.from({ length: sequences }, async (_, s) => {
      const answers: Step[] = [];
      for (let k = 0; k < steps; k++) answers.push(await step(model, firstId + s, s + k, k === 0, k === steps - 1));
      return answers;
    }),
  );
}

describe.each(['sticky_oldest', 'sticky_direct'])('%s: every request of a sequence runs on its instance', (model) => {
  it('keeps each of many interleaved sequences on one instance, whose own count of it goes on', async () => {
    const SEQUENCES = 15;
    const STEPS = 6;
    const results = await interleaved(model, SEQUENCES, STEPS, 500);
    const instancesUsed = new Set<string>();
    results.forEach((answers, s) => {
      const where = answers.map((a) => a.instance);
      expect(new Set(where).size, `sequence ${s} ran on ${where.join(', ')}`).toBe(1);
      instancesUsed.add(where[0]);
      // The instance saw every earlier request of the sequence: none went elsewhere.
      expect(answers.map((a) => a.seen)).toEqual(Array.from({ length: STEPS }, (_, k) => k + 1));
      expect(answers.map((a) => a.started)).toEqual(Array.from({ length: STEPS }, (_, k) => (k === 0 ? 1 : 0)));
      // Its implicit state is its own running sum of s, s + 1, …: no other sequence's state leaked in.
      expect(answers.map((a) => a.total)).toEqual(Array.from({ length: STEPS }, (_, k) => (k + 1) * s + (k * (k + 1)) / 2));
    });
    // More sequences than one instance has slots: they spread over the instances.
    expect(instancesUsed.size).toBeGreaterThan(1);
  });
});

describe('implicit state of a JavaScript sequence model', () => {
  it('feeds TOTAL_OUT back as TOTAL_IN, from zero at each START', async () => {
    const totals: number[] = [];
    const model = 'sticky_direct';
    for (const [value, start, end] of [
      [5, true, false],
      [7, false, false],
      [1, false, true],
      [2, true, true],
    ] as const) {
      const { json } = await postJson(`${t.url}/v2/models/${model}/infer`, {
        inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] }],
        outputs: [{ name: 'TOTAL' }],
        parameters: { sequence_id: 77, sequence_start: start, sequence_end: end },
      });
      totals.push(json.outputs[0].data[0]);
    }
    expect(totals).toEqual([5, 12, 13, 2]);
  });
});
