/**
 * Instances that die: at load, on one request, on every request, or on every restart.
 * A model is READY only while it can answer; the reason shows wherever an operator looks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { addJavaScriptModel, waitFor } from '../helpers/javascript-models.js';
import { getJson, postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const CONFIG = `backend: "javascript"
max_batch_size: 4
input [{ name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 1 ] }]
`;

/** Echoes INPUT0; `crash` (request parameter) ends its worker; `marker` files steer the rest. */
const CRASHING_MODEL = `
import { existsSync, writeFileSync } from 'node:fs';
let markers;
export function initialize(args) {
  markers = args.modelDirectory;
  if (existsSync(markers + '/crash-on-load')) process.exit(3);
}
export function execute(requests) {
  if (existsSync(markers + '/crash-always') || requests.some((r) => r.parameters.crash)) {
    if (existsSync(markers + '/crash-on-restart')) writeFileSync(markers + '/crash-on-load', '');
    process.exit(4);
  }
  return requests.map((r) => ({ outputs: { OUTPUT0: { shape: r.inputs.INPUT0.shape, data: r.inputs.INPUT0.data } } }));
}
`;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serveCrashing(markers: string[] = []): Promise<{ t: TestServer; dir: string }> {
  const { root, cleanup } = scratchRepository();
  cleanups.push(cleanup);
  addJavaScriptModel(root, 'crashy', CONFIG, { source: CRASHING_MODEL });
  addJavaScriptModel(root, 'steady', CONFIG, { source: CRASHING_MODEL });
  const { writeFileSync } = await import('node:fs');
  for (const marker of markers) writeFileSync(`${root}/crashy/${marker}`, '');
  const t = await startTestServer({ modelRepositories: [root], modelRestartLimit: 2, modelRestartBackoffMs: 20 });
  cleanups.push(() => t.server.stop());
  return { t, dir: `${root}/crashy` };
}

const ask = (t: TestServer, model: string, value: number, parameters?: Record<string, unknown>) =>
  postJson(`${t.url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [value] }],
    ...(parameters ? { parameters } : {}),
  });

const stateOf = (t: TestServer, name: string) => t.server.registry.index().find((e) => e.name === name)!;

describe('instances that die', () => {
  it('a model whose worker dies while loading is UNAVAILABLE with the reason, and the server is not ready', async () => {
    const { t } = await serveCrashing(['crash-on-load']);
    expect(stateOf(t, 'crashy')).toMatchObject({ state: 'UNAVAILABLE' });
    expect(stateOf(t, 'crashy').reason).toMatch(/exited with code 3 while loading/);
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(400);
    const ready = await getJson(`${t.url}/v2/models/crashy/ready`);
    expect(ready.status).toBe(400);
    expect(ready.json.error).toMatch(/exited with code 3 while loading/);
    expect((await ask(t, 'steady', 1)).status).toBe(200);
  });

  it('a crash fails only the requests it was executing, and a restarted instance serves the next ones', async () => {
    const { t } = await serveCrashing();
    expect((await ask(t, 'crashy', 1)).json.outputs[0].data).toEqual([1]);
    const crashed = await ask(t, 'crashy', 2, { crash: true });
    expect(crashed.status).toBe(500);
    expect(crashed.json.error).toMatch(/^model 'crashy' version 1 failed: instance crashy_0 of model 'crashy' version 1 exited unexpectedly \(code 4\)$/);
    // Sent while the instance is down: it waits for the restart instead of failing.
    const next = await ask(t, 'crashy', 3);
    expect(next.status).toBe(200);
    expect(next.json.outputs[0].data).toEqual([3]);
    expect(stateOf(t, 'crashy').state).toBe('READY');
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(200);
  });

  it('requests handed to an instance behind the one it crashed on run after the restart instead of failing', async () => {
    const { root, cleanup } = scratchRepository();
    cleanups.push(cleanup);
    // One instance, so that the second request waits in that instance's worker (work
    // handed ahead) while the first runs and, 200 ms in, ends the worker.
    addJavaScriptModel(root, 'slow_crash', `${CONFIG}instance_group [{ count: 1, kind: KIND_CPU }]\n`, {
      source: `
export async function execute(requests) {
  if (requests.some((r) => r.parameters.crash)) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.exit(4);
  }
  return requests.map((r) => ({ outputs: { OUTPUT0: { shape: r.inputs.INPUT0.shape, data: r.inputs.INPUT0.data } } }));
}
`,
    });
    const t = await startTestServer({ modelRepositories: [root], modelRestartLimit: 2, modelRestartBackoffMs: 20 });
    cleanups.push(() => t.server.stop());
    const scheduler = t.server.registry.resolve('slow_crash').requestScheduler;
    const crashing = ask(t, 'slow_crash', 1, { crash: true });
    await waitFor(() => scheduler.pendingCount === 1, 'the crashing request to be in flight');
    const behind = [ask(t, 'slow_crash', 2), ask(t, 'slow_crash', 3)];
    // Two executions per instance before any has been timed: the second request is handed
    // over at once, the third waits in the queue.
    await waitFor(() => scheduler.pendingCount === 3 && scheduler.queuedCount === 1, 'the second request to be handed over');
    const crashed = await crashing;
    expect(crashed.status).toBe(500);
    expect(crashed.json.error).toMatch(/exited unexpectedly \(code 4\)$/);
    for (const [k, answer] of (await Promise.all(behind)).entries()) {
      expect(answer.status).toBe(200);
      expect(answer.json.outputs[0].data).toEqual([k + 2]);
    }
    const statistics = t.server.registry.resolve('slow_crash').statistics;
    expect(statistics.failures.BACKEND).toBe(1);
    expect(statistics.success.count).toBe(2);
  });

  it('a model that crashes on every request is UNAVAILABLE after the restart limit, and the server says why', async () => {
    const { t } = await serveCrashing(['crash-always']);
    const statuses: number[] = [];
    for (let i = 0; i < 10 && stateOf(t, 'crashy').state === 'READY'; i++) statuses.push((await ask(t, 'crashy', i)).status);
    expect(statuses).toEqual([500, 500, 500]);
    const entry = stateOf(t, 'crashy');
    expect(entry.state).toBe('UNAVAILABLE');
    expect(entry.reason).toMatch(/^instances failed 3 times in a row without a successful execution; last failure: .*exited unexpectedly \(code 4\)$/);
    expect((await fetch(`${t.url}/v2/health/ready`)).status).toBe(400);
    expect((await getJson(`${t.url}/v2/models/crashy/ready`)).json.error).toContain(entry.reason);
    const refused = await ask(t, 'crashy', 0);
    expect(refused.status).toBe(503);
    expect(refused.json.error).toContain(entry.reason);
    expect((await ask(t, 'steady', 5)).status).toBe(200);
  });

  it('failed restarts count too: an instance that cannot come back makes the model UNAVAILABLE', async () => {
    const { t } = await serveCrashing(['crash-on-restart']);
    expect((await ask(t, 'crashy', 1, { crash: true })).status).toBe(500);
    await waitFor(() => stateOf(t, 'crashy').state === 'UNAVAILABLE', 'the model to give up');
    expect(stateOf(t, 'crashy').reason).toMatch(/exited with code 3 while loading$/);
  });
});
