/** instance_group and dynamic_batching as a model loads them: kinds, counts, names, several groups, Triton's checks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultIntraOpThreads } from '../../src/repository/instance-groups.js';
import { addJavaScriptModel, Gate, record, recorderConfig } from '../helpers/javascript-models.js';
import { addModel, getJson, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

const SIMPLE = (extra: string) => `platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  { name: "INPUT0", data_type: TYPE_INT32, dims: [ 16 ] },
  { name: "INPUT1", data_type: TYPE_INT32, dims: [ 16 ] }
]
output [
  { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 16 ] },
  { name: "OUTPUT1", data_type: TYPE_INT32, dims: [ 16 ] }
]
${extra}
`;

const BROKEN: Record<string, [string, string | RegExp]> = {
  // The reason between the colon and the advice depends on the machine: test/backends/gpu-instances.test.ts checks it.
  gpu: [
    'instance_group [{ kind: KIND_GPU gpus: [ 0 ] }]',
    /^instance group 'gpu_0' of model 'gpu' asks for KIND_GPU but no GPU is available to the onnxruntime backend of this server: .+ \(use KIND_CPU, or KIND_AUTO to fall back to the CPU\)$/,
  ],
  cpu_with_gpus: ['instance_group [{ kind: KIND_CPU gpus: [ 1 ] }]', "instance group 'cpu_with_gpus_0' of model 'cpu_with_gpus' has kind KIND_CPU but specifies one or more GPUs (gpus: [1])"],
  preferred_too_big: ['dynamic_batching { preferred_batch_size: [ 4, 16 ] }', 'dynamic batching preferred size must be <= max batch size for preferred_too_big'],
  preferred_zero: ['dynamic_batching { preferred_batch_size: [ 0 ] }', 'dynamic batching preferred size must be positive for preferred_zero'],
  default_level: ['dynamic_batching { priority_levels: 2 default_priority_level: 3 }', 'default priority level must be in range [1, 2] for default_level'],
  policy_level: [
    'dynamic_batching { priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 3 value: { max_queue_size: 1 } } }',
    'priority queue policy must have priority level in range [1, 2] for policy_level',
  ],
  ordering_levels: [
    'dynamic_batching { preserve_ordering: true priority_levels: 2 default_priority_level: 1 }',
    "Only one priority level is allowed when 'preserve_ordering' is true for ordering_levels",
  ],
  ordering_delay: [
    'dynamic_batching { preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100 } }',
    "Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for ordering_delay",
  ],
};

const repo = scratchRepository();
let t: TestServer;

beforeAll(async () => {
  for (const [name, [extra]] of Object.entries(BROKEN)) addModel(repo.root, name, { from: 'simple', config: SIMPLE(extra) });
  addModel(repo.root, 'auto', { from: 'simple', config: SIMPLE('instance_group [{ count: 1 kind: KIND_AUTO gpus: [ 0 ] }]\ndynamic_batching { }') });
  addModel(repo.root, 'unset', { from: 'simple', config: SIMPLE('') });
  addJavaScriptModel(
    repo.root,
    'groups',
    recorderConfig('instance_group [{ name: "solo" count: 1 kind: KIND_CPU }, { count: 2 kind: KIND_AUTO }]\ndynamic_batching { }'),
  );
  t = await startTestServer({ modelRepositories: [repo.root] });
});
afterAll(async () => {
  await t?.server.stop();
  repo.cleanup();
});

const instances = (name: string) => getJson(`${t.url}/v2/models/${name}/config`).then(({ json }) => json.instance_group);

describe('instance groups', () => {
  it('fails the load of a model whose groups cannot be honoured, with the reason, as Triton does', () => {
    const index = t.server.registry.index();
    for (const [name, [, reason]] of Object.entries(BROKEN)) {
      const entry = index.find((e) => e.name === name);
      expect(entry, name).toMatchObject({ state: 'UNAVAILABLE', reason: typeof reason === 'string' ? reason : expect.stringMatching(reason) });
    }
  });

  it('runs KIND_AUTO on the CPU when there is no GPU, and fills in the preferred batch size', async () => {
    expect(await instances('auto')).toEqual([
      expect.objectContaining({ name: 'auto_0', kind: 'KIND_CPU', count: 1, gpus: [] }),
    ]);
    const { json } = await getJson(`${t.url}/v2/models/auto/config`);
    expect(json.dynamic_batching.preferred_batch_size).toEqual([8]);
  });

  it("starts Triton's default for an ONNX model without instance_group: one group named after the model, two CPU instances", async () => {
    expect(await instances('unset')).toEqual([expect.objectContaining({ name: 'unset', kind: 'KIND_CPU', count: 2 })]);
  });

  it('serves one model from several groups, each instance a worker of its own', async () => {
    expect((await instances('groups')).map((g: { name: string; count: number; kind: string }) => [g.name, g.count, g.kind])).toEqual([
      ['solo', 1, 'KIND_CPU'],
      ['groups_1', 2, 'KIND_CPU'],
    ]);
    // One at a time, each holding its instance, so that the next finds only the others idle.
    const gates = [0, 1, 2].map(() => new Gate(repo.root));
    const answers = [];
    for (const [k, gate] of gates.entries()) {
      answers.push(record(t.url, 'groups', [k], 1, { gate: gate.path }));
      await gate.started();
    }
    for (const gate of gates) gate.open();
    const done = await Promise.all(answers);
    expect(done.map((a) => a.instance).sort()).toEqual(['groups_1_0', 'groups_1_1', 'solo_0']);
    done.forEach((a, k) => expect(a.output).toEqual([k]));
  });
});

describe('intra-op threads', () => {
  it('divides the cores left to the main thread among the instances', () => {
    for (const [instanceCount, cores, threads] of [
      [1, 2, 1],
      [2, 2, 1],
      [1, 16, 15],
      [3, 16, 5],
      [20, 16, 1],
    ]) {
      expect(defaultIntraOpThreads(instanceCount, cores), `${instanceCount} instances on ${cores} cores`).toBe(threads);
      if (instanceCount < cores) expect(instanceCount * defaultIntraOpThreads(instanceCount, cores)).toBeLessThanOrEqual(cores);
    }
  });
});
