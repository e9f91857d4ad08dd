/**
 * verify: compares the canary with the stable version from their own metrics
 * (nv_inference_* counters scraped before and after a window) and promotes or rolls
 * back.
 * - local: during the window the step itself sends the traffic, split by the
 *   deployment's canaryTrafficPercent (two request-rate loads of the perf engine).
 *   Promotion copies the canary's model folder into `promote_to`, when given.
 * - kserve: the cluster's own traffic is observed through `stable_metrics_url` and
 *   `canary_metrics_url`; the verdict is written as a manifest (canary share dropped to
 *   promote, set to 0 to roll back) and applied when a cluster is configured. Without
 *   an applied deployment or metrics URLs there is nothing to observe: the step is
 *   skipped and says so.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InferenceError } from '../../core/index.js';
import { perfOptions, runPerf } from '../../perf/index.js';
import { canaryVerdict, type Verdict } from '../canary-verdict.js';
import type { Deployment, LocalDeployment } from '../deployment.js';
import { applyManifest, inferenceServiceManifest } from '../kserve-manifest.js';
import { counterDelta, scrapeModelCounters } from '../model-metrics.js';
import type { StepContext, StepKind } from '../step-kind.js';
import { resultFigures } from './perf-figures.js';

/** Sends the split traffic for `windowMs`; returns how many requests were sent. */
async function localTraffic(ctx: StepContext, deployment: LocalDeployment, windowMs: number): Promise<number> {
  const total = ctx.params.request_rate as number;
  const canaryRate = Math.max(1, Math.round((total * deployment.canaryTrafficPercent) / 100));
  const stableRate = Math.max(1, total - canaryRate);
  const load = (http: string, rate: number) =>
    runPerf(
      perfOptions({
        model: deployment.model,
        url: http,
        protocol: 'http',
        measurementIntervalMs: windowMs,
        stabilityFraction: 1,
        maxTrials: 1,
        load: { kind: 'request-rate', range: { start: rate, end: rate, step: 1 }, distribution: 'constant' },
      }),
      { signal: ctx.signal },
    );
  const sides: Array<[string, number]> = [];
  if (deployment.canaryTrafficPercent > 0) sides.push([deployment.canary.http, canaryRate]);
  if (deployment.canaryTrafficPercent < 100) sides.push([deployment.stable.http, stableRate]);
  const results = await Promise.all(sides.map(([http, rate]) => load(http, rate)));
  const sent = results.flatMap(resultFigures).reduce((n, f) => n + f.requests + f.errors, 0);
  ctx.log(`sent ${sent} requests in ${windowMs} ms: ${sides.map(([http, rate]) => `${rate}/s to ${http}`).join(', ')}`);
  return sent;
}

export const verifyStep: StepKind = {
  kind: 'verify',
  help: 'canary against stable from their nv_inference_* metrics over a window; promote or roll back',
  inputs: { deployment: { type: 'deployment', help: 'what deploy started or applied' } },
  outputs: { decision: 'decision' },
  parameters: {
    window_ms: { type: 'int', default: 5000, min: 100, help: 'how long to observe' },
    warmup_ms: { type: 'int', default: 1000, min: 0, help: 'local: traffic sent before the window, so that neither side is measured cold' },
    request_rate: { type: 'int', default: 50, min: 2, help: 'local: requests per second sent during the window, split by the canary share' },
    min_requests: { type: 'int', default: 10, min: 1, help: 'fewest canary requests the window must hold' },
    max_error_rate: { type: 'number', default: 0.01, min: 0, max: 1, help: 'largest acceptable canary failure share' },
    max_latency_ratio: { type: 'number', default: 1.5, min: 0, help: 'largest acceptable canary / stable mean latency' },
    promote_to: { type: 'string', help: 'local: a model repository the promoted model folder is copied into' },
    stable_metrics_url: { type: 'string', help: 'kserve: metrics endpoint of the stable revision' },
    canary_metrics_url: { type: 'string', help: 'kserve: metrics endpoint of the canary revision' },
  },
  cacheable: false,
  async run(ctx) {
    const deployment = JSON.parse(readFileSync(ctx.inputs.deployment.path, 'utf8')) as Deployment;
    const decisionPath = join(ctx.outDir, 'decision.json');
    let stableUrl: string;
    let canaryUrl: string;
    if (deployment.target === 'local') {
      [stableUrl, canaryUrl] = [deployment.stable.metricsUrl, deployment.canary.metricsUrl];
    } else {
      const given = [ctx.params.stable_metrics_url, ctx.params.canary_metrics_url];
      if (!deployment.applied || given.some((u) => u === undefined)) {
        const why = !deployment.applied ? `the InferenceService was not applied (${deployment.manifest} only)` : 'stable_metrics_url and canary_metrics_url are not both set';
        writeFileSync(decisionPath, `${JSON.stringify({ decision: 'not-verified', reasons: [why] }, null, 2)}\n`);
        return { outputs: { decision: decisionPath }, summary: `skipped: ${why}, so there is no canary traffic to compare`, skipped: true };
      }
      [stableUrl, canaryUrl] = given as [string, string];
    }
    if (deployment.target === 'local' && (ctx.params.warmup_ms as number) > 0) await localTraffic(ctx, deployment, ctx.params.warmup_ms as number);
    const before = await Promise.all([scrapeModelCounters(stableUrl, deployment.model), scrapeModelCounters(canaryUrl, deployment.model)]);
    if (deployment.target === 'local') await localTraffic(ctx, deployment, ctx.params.window_ms as number);
    else await sleep(ctx.params.window_ms as number, undefined, { signal: ctx.signal });
    const after = await Promise.all([scrapeModelCounters(stableUrl, deployment.model), scrapeModelCounters(canaryUrl, deployment.model)]);
    const verdict: Verdict = canaryVerdict(counterDelta(before[0], after[0]), counterDelta(before[1], after[1]), {
      minRequests: ctx.params.min_requests as number,
      maxErrorRate: ctx.params.max_error_rate as number,
      maxLatencyRatio: ctx.params.max_latency_ratio as number,
    });
    let action = '';
    if (deployment.target === 'local') {
      const target = ctx.params.promote_to as string | undefined;
      if (verdict.decision === 'promote' && target !== undefined) {
        const into = join(ctx.resolvePath(target), deployment.model);
        rmSync(into, { recursive: true, force: true });
        cpSync(join(deployment.canary.repository, deployment.model), into, { recursive: true });
        action = `; copied the canary's model folder into ${into}`;
      }
    } else {
      const manifestPath = join(ctx.outDir, `inferenceservice-${verdict.decision}.yaml`);
      writeFileSync(
        manifestPath,
        inferenceServiceManifest({
          ...deployment,
          canaryTrafficPercent: verdict.decision === 'promote' ? undefined : 0,
          annotations: { 'nereid.io/pipeline': ctx.pipelineName, 'nereid.io/verdict': verdict.decision },
        }),
      );
      const applied = await applyManifest(manifestPath, ctx.env);
      if (applied.state === 'failed') throw new InferenceError('UNAVAILABLE', applied.message);
      action = `; ${applied.message}`;
    }
    writeFileSync(decisionPath, `${JSON.stringify({ ...verdict, windowMs: ctx.params.window_ms, stableMetrics: stableUrl, canaryMetrics: canaryUrl }, null, 2)}\n`);
    return { outputs: { decision: decisionPath }, summary: `${verdict.decision}: ${verdict.reasons.join('; ')}${action}`, verdict: verdict.decision };
  },
};
