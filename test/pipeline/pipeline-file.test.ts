import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { parsePipeline, readPipeline } from '../../src/pipeline/index.js';
import { EXAMPLE_REPOSITORY } from '../helpers/test-server.js';

const header = `name: p\nmodel: mlp\nrepository: ${JSON.stringify(EXAMPLE_REPOSITORY)}\n`;
const parse = (text: string) => parsePipeline(text, '/pipelines/p.yaml');
const problems = (text: string): string => {
  try {
    parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the pipeline was accepted');
};

describe('pipeline files', () => {
  it('the bundled example pipeline is valid', () => {
    const pipeline = readPipeline(fileURLToPath(new URL('../../pipelines/mlp-canary.yaml', import.meta.url)));
    expect(pipeline.steps.map((s) => s.kind)).toEqual(['validate', 'warmup', 'perf', 'tune', 'perf', 'package', 'deploy', 'verify']);
    expect(pipeline.steps[4].inputs.config).toMatchObject({ step: 'tuned', output: 'config' });
  });

  it('wires inputs by type when they are not named, and by STEP.OUTPUT when they are', () => {
    const pipeline = parse(`${header}steps:
  - { name: check, kind: validate }
  - { name: t, kind: tune, with: { strategy: bayes, concurrency: 4 } }
  - { name: pkg, kind: package }
  - { name: pkg-original, kind: package, inputs: { config: check.config, model: source.model } }
  - { name: k, kind: deploy, with: { target: kserve, storage_uri: "s3://bucket/mlp" }, inputs: { repository: pkg.repository } }
`);
    const [check, tune, pkg, original, deploy] = pipeline.steps;
    expect(check.inputs.model).toEqual({ step: 'source', output: 'model', type: 'model' });
    expect(tune.inputs.config).toEqual({ step: 'check', output: 'config', type: 'model-config' });
    expect(tune.params).toMatchObject({ strategy: 'bayes', concurrency: [4], window_ms: 1000 });
    expect(pkg.inputs.config.step).toBe('t');
    expect(original.inputs.config.step).toBe('check');
    expect(deploy.inputs.repository.step).toBe('pkg');
    expect(deploy.params).toMatchObject({ target: 'kserve', canary_traffic_percent: 10, namespace: 'default' });
  });

  it('names the line, step and field of each problem, all at once', () => {
    const message = problems(`${header}steps:
  - { name: check, kind: validate, with: { strict: true } }
  - name: t
    kind: tune
    with:
      strategy: hill
      window_ms: -5
      concurrency: "1,4"
  - { name: t, kind: perf }
  - { name: p, kind: package, inputs: { config: later.config } }
  - { name: later, kind: tune }
  - { name: q, kind: package, inputs: { config: check.report } }
  - { name: r, kind: package, inputs: { config: check.nothing } }
  - { name: d, kind: deploy, with: { target: kserve, canary_traffic_percent: 150 } }
  - { name: v, kind: verfy }
`);
    const lines = message.split('\n');
    const expected = [
      /^\/pipelines\/p\.yaml:5: step 'check' \(validate\): field 'with\.strict' unknown parameter; expected one of \(none\)$/,
      /^\/pipelines\/p\.yaml:9: step 't' \(tune\): field 'with\.strategy' must be one of grid, random, asha, bayes, got 'hill'$/,
      /^\/pipelines\/p\.yaml:10: step 't' \(tune\): field 'with\.window_ms' must be at least 10, got -5$/,
      /^\/pipelines\/p\.yaml:11: step 't' \(tune\): field 'with\.concurrency' must be an integer or a list of integers, got '1,4'$/,
      /^\/pipelines\/p\.yaml:12: step 't' \(perf\): the name 't' is used by an earlier step$/,
      /^\/pipelines\/p\.yaml:13: step 'p' \(package\): input 'config' refers to step 'later', which runs after it$/,
      /^\/pipelines\/p\.yaml:15: step 'q' \(package\): input 'config' expects a model-config, but check\.report is a report$/,
      /^\/pipelines\/p\.yaml:16: step 'r' \(package\): input 'config': step 'check' has no output 'nothing'; it has config, report$/,
      /^\/pipelines\/p\.yaml:17: step 'd' \(deploy\): field 'with\.canary_traffic_percent' must be at most 100, got 150$/,
      /^\/pipelines\/p\.yaml:17: step 'd' \(deploy\): field 'with\.storage_uri' is required when target is kserve/,
      /^\/pipelines\/p\.yaml:18: step 'v' \(verfy\): field 'kind' must be one of validate, warmup, perf, tune, package, deploy, verify, got 'verfy'$/,
    ];
    for (const pattern of expected) expect(lines.some((line) => pattern.test(line)), `${pattern}\n---\n${message}`).toBe(true);
  });

  it('refuses missing producers, unknown fields and a model the repository lacks', () => {
    expect(problems(`${header}steps:\n  - { name: pkg, kind: package }\n`)).toMatch(
      /p\.yaml:5: step 'pkg' \(package\): input 'config' \(a model-config\) has no producer before it; add an earlier step that outputs one or set inputs\.config/,
    );
    expect(problems(`${header}steps:\n  - { name: v, kind: verify }\n`)).toMatch(/step 'v' \(verify\): input 'deployment' \(a deployment\) has no producer/);
    expect(problems(`${header}stages: []\nsteps: []\n`)).toMatch(/p\.yaml:4: unknown field 'stages'[\s\S]*p\.yaml:5: field 'steps' must be a non-empty list/);
    expect(problems(`name: p\nmodel: nope\nrepository: ${JSON.stringify(EXAMPLE_REPOSITORY)}\nsteps:\n  - { name: c, kind: validate }\n`)).toMatch(/p\.yaml:2: field 'model': no folder 'nope' in /);
    expect(problems(`model: mlp\nrepository: /no/such/dir\nserver: { url: nohost }\nsteps:\n  - { name: c, kind: validate, extra: 1 }\n`)).toMatch(
      /field 'name' is required[\s\S]*field 'repository': \/no\/such\/dir is not a folder[\s\S]*field 'server\.url' must be HOST:PORT, got 'nohost'[\s\S]*step 'c' \(validate\): unknown field 'extra'/,
    );
    expect(problems(`${header}steps:\n  - { name: c, kind: validate\n`)).toMatch(/^\/pipelines\/p\.yaml:\d+: not valid YAML: /);
    expect(problems('- just\n- a list\n')).toMatch(/a pipeline file is a mapping/);
  });
});
