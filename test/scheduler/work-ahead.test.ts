/**
 * Work handed to a busy instance ahead of time (InstancePool) still counts as queued
 * until the instance begins it: the statistics' queue time ends where the execution
 * starts, as in Triton, not where the main thread let go of the request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const EXECUTION_MS = 150;
const CONFIG = `backend: "javascript"
max_batch_size: 0
input [{ name: "INPUT0", data_type: TYPE_INT32, dims: [ 2 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 2 ] }]
instance_group [{ count: 1, kind: KIND_CPU }]
`;
const SLOW = `
export async function execute(requests) {
  await new Promise((resolve) => setTimeout(resolve, ${EXECUTION_MS}));
  return requests.map(({ inputs }) => ({ outputs: { OUTPUT0: inputs.INPUT0 } }));
}
`;

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  addJavaScriptModel(repo.root, 'slow', CONFIG, { source: SLOW });
  t = await startTestServer({ modelRepositories: [repo.root], exitOnError: true });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

describe('queue time under the default scheduler', () => {
  it('ends when the instance begins the execution, even for a request handed over early', async () => {
    const send = (k: number) => postJson(`${t.url}/v2/models/slow/infer`, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2], data: [k, k] }] });
    const answers = await Promise.all([1, 2, 3].map(send));
    for (const [k, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(answer.json.outputs[0].data).toEqual([k + 1, k + 1]);
    }
    const stats = t.server.registry.resolve('slow').statistics;
    expect(stats.success.count).toBe(3);
    // One instance runs them one after another: the second waits one execution, the
    // third two, wherever they waited (the second is handed over at once).
    const ms = (ns: number) => ns / 1e6;
    expect(ms(stats.queue.ns)).toBeGreaterThanOrEqual(3 * EXECUTION_MS * 0.9);
    expect(ms(stats.computeInfer.ns)).toBeGreaterThanOrEqual(3 * EXECUTION_MS * 0.9);
    // Queue and compute never overlap: together they fit in the requests' own time.
    const parts = stats.queue.ns + stats.computeInput.ns + stats.computeInfer.ns + stats.computeOutput.ns;
    expect(parts).toBeLessThanOrEqual(stats.success.ns);
  });
});
