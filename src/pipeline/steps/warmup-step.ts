/**
 * warmup: sends requests to the staging server until `requests` have completed, so
 * that sessions, thread pools and the JIT are hot before anything is measured. Any
 * failed request fails the step with the server's message.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError } from '../../core/index.js';
import { perfOptions, runPerf } from '../../perf/index.js';
import { endpointOf } from '../server-process.js';
import type { StepKind } from '../step-kind.js';
import { resultFigures } from './perf-figures.js';

export const warmupStep: StepKind = {
  kind: 'warmup',
  help: 'sends requests until the model is warm; fails on any failed request',
  inputs: { model: { type: 'model', help: 'the model folder (its hash keys the cache)' } },
  outputs: { report: 'report' },
  parameters: {
    requests: { type: 'int', default: 50, min: 1, help: 'requests that must complete' },
    concurrency: { type: 'int', default: 2, min: 1, help: 'requests in flight' },
    batch_size: { type: 'int', default: 1, min: 1, help: 'batch size of each request' },
    protocol: { type: 'string', default: 'http', oneOf: ['http', 'grpc'], help: 'protocol of the requests' },
  },
  cacheable: true,
  async run(ctx) {
    const staging = await ctx.staging();
    const protocol = ctx.params.protocol as 'http' | 'grpc';
    const concurrency = ctx.params.concurrency as number;
    const result = await runPerf(
      perfOptions({
        model: ctx.model,
        url: endpointOf(staging, protocol),
        protocol,
        batchSize: ctx.params.batch_size as number,
        measurementMode: 'count_windows',
        measurementIntervalMs: 100,
        measurementRequestCount: ctx.params.requests as number,
        stabilityFraction: 1,
        maxTrials: 1,
        load: { kind: 'concurrency', range: { start: concurrency, end: concurrency, step: 1 } },
      }),
      { signal: ctx.signal },
    );
    const [level] = resultFigures(result);
    if (!level || level.errors > 0) {
      throw new InferenceError('UNAVAILABLE', `warm-up requests to '${ctx.model}' failed: ${level?.errorMessages.join('; ') ?? 'no level was measured'}`);
    }
    const report = join(ctx.outDir, 'warmup.json');
    writeFileSync(report, `${JSON.stringify({ model: ctx.model, ...level }, null, 2)}\n`);
    return { outputs: { report }, summary: `${level.requests} requests completed, none failed (p99 ${level.p99Ms.toFixed(2)} ms)` };
  },
};
