/**
 * validate: the model folder's config.pbtxt is read by the repository's own parser and
 * checked against the folder (name, version folders), then the model is loaded on the
 * staging server, which runs the backend's checks (the model file loads, its inputs and
 * outputs agree with the configuration). Outputs the configuration as the server
 * completed it, the base that tune and package start from.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InferenceError } from '../../core/index.js';
import { parseModelConfig, versionFolders } from '../../repository/index.js';
import { HttpModelControl } from '../../tune/index.js';
import type { StepKind } from '../step-kind.js';

export const validateStep: StepKind = {
  kind: 'validate',
  help: 'config.pbtxt parses and matches its folder; the model loads on the staging server',
  inputs: { model: { type: 'model', help: 'the model folder' } },
  outputs: { config: 'model-config', report: 'report' },
  parameters: {},
  cacheable: true,
  async run(ctx) {
    const dir = ctx.inputs.model.path;
    const configPath = join(dir, 'config.pbtxt');
    const problems: string[] = [];
    let declaredName: string | undefined;
    if (existsSync(configPath)) {
      try {
        declaredName = parseModelConfig(readFileSync(configPath, 'utf8'), configPath).name || undefined;
      } catch (err) {
        throw new InferenceError('INVALID_ARG', `model '${ctx.model}': ${(err as Error).message}`);
      }
      if (declaredName !== undefined && declaredName !== basename(dir)) problems.push(`config.pbtxt names the model '${declaredName}' but its folder is '${basename(dir)}'`);
    }
    const versions = versionFolders(dir).sort((a, b) => a - b);
    if (versions.length === 0) problems.push(`no numeric version folder in ${dir}`);
    for (const version of versions) {
      if (readdirSync(join(dir, String(version))).length === 0) problems.push(`version folder ${version} is empty`);
    }
    if (problems.length > 0) throw new InferenceError('INVALID_ARG', `model '${ctx.model}': ${problems.join('; ')}`);
    const staging = await ctx.staging();
    const control = new HttpModelControl(`http://${staging.http}`);
    const config = await control.config(ctx.model);
    const ready = await fetch(`http://${staging.http}/v2/models/${encodeURIComponent(ctx.model)}/ready`);
    if (ready.status !== 200) throw new InferenceError('UNAVAILABLE', `model '${ctx.model}' loaded but is not ready on the staging server (HTTP ${ready.status})`);
    const metadata = (await (await fetch(`http://${staging.http}/v2/models/${encodeURIComponent(ctx.model)}`)).json()) as { inputs?: unknown[]; outputs?: unknown[] };
    const outputs = { config: join(ctx.outDir, 'config.json'), report: join(ctx.outDir, 'validation.json') };
    writeFileSync(outputs.config, `${JSON.stringify(config, null, 2)}\n`);
    const report = { model: ctx.model, versions, configFile: existsSync(configPath), inputs: metadata.inputs ?? [], outputs: metadata.outputs ?? [] };
    writeFileSync(outputs.report, `${JSON.stringify(report, null, 2)}\n`);
    return {
      outputs,
      summary: `${ctx.model}: ${existsSync(configPath) ? 'config.pbtxt parses' : 'no config.pbtxt (auto-completed)'}, versions ${versions.join(', ')}, loads and is ready (${report.inputs.length} inputs, ${report.outputs.length} outputs)`,
    };
  },
};
