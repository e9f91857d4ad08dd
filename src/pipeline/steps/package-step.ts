/**
 * package: a model repository holding the model's version folders and the given
 * configuration written as config.pbtxt, read back with the repository's parser so
 * that a configuration the server would refuse fails here, not at deployment.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError } from '../../core/index.js';
import { parseModelConfig, versionFolders } from '../../repository/index.js';
import { toPbtxt } from '../../tune/index.js';
import type { StepKind } from '../step-kind.js';

export const packageStep: StepKind = {
  kind: 'package',
  help: 'a repository folder with the model and the (tuned) config.pbtxt',
  inputs: {
    model: { type: 'model', help: 'the model folder whose version folders are packaged' },
    config: { type: 'model-config', help: 'the configuration to package' },
  },
  outputs: { repository: 'repository' },
  parameters: {},
  cacheable: true,
  async run(ctx) {
    const config = JSON.parse(readFileSync(ctx.inputs.config.path, 'utf8')) as Record<string, unknown>;
    const repository = join(ctx.outDir, 'repository');
    const modelDir = join(repository, ctx.model);
    mkdirSync(modelDir, { recursive: true });
    const versions = versionFolders(ctx.inputs.model.path).sort((a, b) => a - b);
    for (const version of versions) cpSync(join(ctx.inputs.model.path, String(version)), join(modelDir, String(version)), { recursive: true });
    const text = toPbtxt({ ...config, name: ctx.model });
    const configPath = join(modelDir, 'config.pbtxt');
    writeFileSync(configPath, text);
    try {
      parseModelConfig(text, configPath);
    } catch (err) {
      throw new InferenceError('INVALID_ARG', `the packaged configuration does not parse: ${(err as Error).message}`);
    }
    return { outputs: { repository }, summary: `${repository}: ${ctx.model} versions ${versions.join(', ')} with the given config.pbtxt` };
  },
};
