/**
 * perf: measures the model on the staging server with the perf engine at each
 * concurrency, with the configuration given as input (loaded through the repository
 * API first) or the one it serves. Fails when any request fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError } from '../../core/index.js';
import { perfOptions, runPerf } from '../../perf/index.js';
import { HttpModelControl } from '../../tune/index.js';
import { endpointOf } from '../server-process.js';
import type { StepKind } from '../step-kind.js';
import { formatFigures, resultFigures, type LevelFigures } from './perf-figures.js';

export const perfStep: StepKind = {
  kind: 'perf',
  help: 'throughput and latency at each concurrency (nereid perf engine)',
  inputs: {
    model: { type: 'model', help: 'the model folder' },
    config: { type: 'model-config', optional: true, help: 'a configuration to load before measuring' },
  },
  outputs: { report: 'report' },
  parameters: {
    concurrency: { type: 'int-list', default: [1, 4], min: 1, help: 'concurrency levels' },
    window_ms: { type: 'int', default: 1000, min: 10, help: 'measurement window per level' },
    trials: { type: 'int', default: 1, min: 1, help: 'windows per level before it counts as measured (perf_analyzer max trials)' },
    batch_size: { type: 'int', default: 1, min: 1, help: 'batch size of each request' },
    protocol: { type: 'string', default: 'http', oneOf: ['http', 'grpc'], help: 'protocol of the requests' },
  },
  cacheable: true,
  async run(ctx) {
    const staging = await ctx.staging();
    if (ctx.inputs.config) {
      await new HttpModelControl(`http://${staging.http}`).load(ctx.model, JSON.parse(readFileSync(ctx.inputs.config.path, 'utf8')) as Record<string, unknown>);
    }
    const protocol = ctx.params.protocol as 'http' | 'grpc';
    const levels: LevelFigures[] = [];
    for (const concurrency of ctx.params.concurrency as number[]) {
      const result = await runPerf(
        perfOptions({
          model: ctx.model,
          url: endpointOf(staging, protocol),
          protocol,
          batchSize: ctx.params.batch_size as number,
          measurementIntervalMs: ctx.params.window_ms as number,
          stabilityFraction: 1,
          maxTrials: ctx.params.trials as number,
          load: { kind: 'concurrency', range: { start: concurrency, end: concurrency, step: 1 } },
        }),
        { signal: ctx.signal },
      );
      levels.push(...resultFigures(result));
    }
    const failed = levels.filter((l) => l.errors > 0);
    if (failed.length > 0) throw new InferenceError('UNAVAILABLE', `requests to '${ctx.model}' failed: ${failed.flatMap((l) => l.errorMessages).join('; ')}`);
    const report = join(ctx.outDir, 'perf.json');
    writeFileSync(report, `${JSON.stringify({ model: ctx.model, configured: ctx.inputs.config?.hash ?? null, levels }, null, 2)}\n`);
    return { outputs: { report }, summary: levels.map(formatFigures).join('; ') };
  },
};
