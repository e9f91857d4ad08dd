/** validate refuses a model before anything is measured: by its folder and config, or by what the server says when loading it. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPipeline, RunStore, runPipeline } from '../../src/pipeline/index.js';
import { addModel, EXAMPLE_REPOSITORY, scratchRepository } from '../helpers/test-server.js';

let scratch: ReturnType<typeof scratchRepository>;
afterEach(() => scratch.cleanup());

async function runOn(configText: string) {
  scratch = scratchRepository();
  addModel(join(scratch.root, 'repo'), 'mlp', { from: 'mlp', config: configText });
  const file = join(scratch.root, 'p.yaml');
  writeFileSync(file, 'name: bad\nmodel: mlp\nrepository: repo\nsteps:\n  - { name: check, kind: validate }\n  - { name: bundle, kind: package }\n');
  return runPipeline(readPipeline(file), { store: new RunStore(join(scratch.root, 'store')) });
}

const mlpConfig = readFileSync(join(EXAMPLE_REPOSITORY, 'mlp', 'config.pbtxt'), 'utf8');

describe('validate', () => {
  it('fails on a config.pbtxt that names another model, and the later steps do not run', async () => {
    const run = await runOn(mlpConfig.replace('name: "mlp"', 'name: "other"'));
    expect(run.status).toBe('failed');
    expect(run.steps.map((s) => s.status)).toEqual(['failed', 'not-run']);
    expect(run.steps[0].error).toBe("model 'mlp': config.pbtxt names the model 'other' but its folder is 'mlp'");
  });

  it('fails with the parser message on a config.pbtxt that does not parse', async () => {
    const run = await runOn(mlpConfig.replace('max_batch_size: 128', 'max_batch: 128'));
    expect(run.steps[0].status).toBe('failed');
    expect(run.steps[0].error).toMatch(/config\.pbtxt:3:\d+: .*max_batch/);
  });

  it("fails with the server's message when the model does not load", { timeout: 60_000 }, async () => {
    const run = await runOn(mlpConfig.replace('dims: [ 256 ]', 'dims: [ 255 ]'));
    expect(run.steps[0].status).toBe('failed');
    expect(run.steps[0].error).toMatch(/staging server .* exited with code 1 while starting: failed to load 1 model[\s\S]*input 'INPUT0' has shape \[-1,256\] in the model file but the configuration gives \[-1,255\]/);
  });
});
