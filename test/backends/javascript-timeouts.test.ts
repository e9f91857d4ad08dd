/** A JavaScript model whose execute() never returns: its requests fail at execute_timeout_ms, and the instance comes back. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addJavaScriptModel } from '../helpers/javascript-models.js';
import { postJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const config = (timeout: string) => `backend: "javascript"
max_batch_size: 8
input [{ name: "INPUT0", data_type: TYPE_INT32, dims: [ -1 ] }]
output [{ name: "OUTPUT0", data_type: TYPE_INT32, dims: [ -1 ] }]
parameters { key: "execute_timeout_ms" value: { string_value: "${timeout}" } }
instance_group [{ count: 1, kind: KIND_CPU }]
`;

// `loop` spins forever (only stopping the worker ends it), `never` awaits a promise that
// never settles, `recurse` calls this very model, whose only instance is busy waiting.
const HANGS = `
export async function execute(requests, { infer }) {
  const { parameters, inputs } = requests[0];
  if (parameters.loop) for (;;);
  if (parameters.never) await new Promise(() => {});
  if (parameters.recurse) await infer({ model: 'hangs', inputs: { INPUT0: inputs.INPUT0 } });
  if (parameters.busy) await new Promise((resolve) => setTimeout(resolve, 250));
  return requests.map(({ inputs }) => ({ outputs: { OUTPUT0: inputs.INPUT0 } }));
}
`;

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  addJavaScriptModel(repo.root, 'hangs', config('400'), { source: HANGS });
  addJavaScriptModel(repo.root, 'bad_timeout', config('soon'), { source: HANGS });
  t = await startTestServer({ modelRepositories: [repo.root], modelRestartBackoffMs: 50 });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

const send = (parameters: Record<string, boolean> = {}) =>
  postJson(`${t.url}/v2/models/hangs/infer`, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 2], data: [7, 8] }], parameters });

const TIMEOUT_ERROR = /^model 'hangs' version 1 failed: instance hangs_0_0 of model 'hangs' version 1 did not finish an execution within 400 ms \(parameter execute_timeout_ms\); it is stopped and restarted$/;

describe('execute_timeout_ms', () => {
  it.each(['loop', 'never', 'recurse'])('fails a request whose execute() does not return (%s), then serves the next one', async (how) => {
    const started = Date.now();
    const hung = await send({ [how]: true });
    expect(hung.status).toBe(500);
    expect(hung.json.error).toMatch(TIMEOUT_ERROR);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);

    // The restarted instance answers; the request waits for it rather than failing.
    const next = await send();
    expect(next.status).toBe(200);
    expect(next.json.outputs[0].data).toEqual([7, 8]);
  });

  it('times each execution from its own start, not from when it was queued in the worker', async () => {
    // Four executions of 250 ms each reach the single instance at once and run one after
    // another: the last ends 1 s after it was handed over, yet none took 400 ms.
    const answers = await Promise.all(Array.from({ length: 4 }, () => send({ busy: true })));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.json.outputs[0].data).toEqual([7, 8]);
    }
  });

  it('refuses a value that is not a number of milliseconds at load', () => {
    const entry = t.server.registry.index().find((e) => e.name === 'bad_timeout')!;
    expect(entry.state).toBe('UNAVAILABLE');
    expect(entry.reason).toBe("model 'bad_timeout': parameter execute_timeout_ms must be a whole number of milliseconds (0 for no limit), got 'soon'");
  });
});
