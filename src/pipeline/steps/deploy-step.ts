/**
 * deploy: the packaged repository as a canary beside the stable model.
 * - target local: two `nereid serve` processes on this machine, the stable one on the
 *   model's own repository and the canary on the package; they live until the run ends,
 *   so this result is never reused from the cache.
 * - target kserve: an InferenceService manifest with canaryTrafficPercent, applied with
 *   kubectl when a cluster is configured; otherwise the manifest is written and the
 *   summary says it was not applied.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Deployment } from '../deployment.js';
import { applyManifest, inferenceServiceManifest } from '../kserve-manifest.js';
import type { StepKind } from '../step-kind.js';
import { InferenceError } from '../../core/index.js';

export const deployStep: StepKind = {
  kind: 'deploy',
  help: 'the package as a canary: two local servers, or a KServe InferenceService with canaryTrafficPercent',
  inputs: {
    repository: { type: 'repository', help: 'the packaged repository (the canary)' },
    model: { type: 'model', help: 'the model folder now serving (the stable version)' },
  },
  outputs: { deployment: 'deployment' },
  parameters: {
    target: { type: 'string', default: 'local', oneOf: ['local', 'kserve'], help: 'where to deploy' },
    canary_traffic_percent: { type: 'int', default: 10, min: 0, max: 100, help: 'share of the traffic the canary gets' },
    name: { type: 'string', help: 'kserve: InferenceService name (default: the model name)' },
    namespace: { type: 'string', default: 'default', help: 'kserve: namespace' },
    storage_uri: { type: 'string', help: 'kserve: where the packaged repository was uploaded (required for kserve)' },
    runtime: { type: 'string', help: 'kserve: ServingRuntime name (default: any that serves the triton format)' },
    apply: { type: 'bool', default: true, help: 'kserve: kubectl apply when a cluster is configured' },
  },
  cacheable: true,
  check(params) {
    if (params.target === 'kserve' && params.storage_uri === undefined) return [['storage_uri', 'is required when target is kserve: where the packaged repository was uploaded (s3://…, gs://…, pvc://…)']];
    return [];
  },
  async run(ctx) {
    const percent = ctx.params.canary_traffic_percent as number;
    const deploymentPath = join(ctx.outDir, 'deployment.json');
    const repository = ctx.inputs.repository.path;
    if (ctx.params.target === 'local') {
      const [stable, canary] = await Promise.all([ctx.startServer('stable', dirname(ctx.inputs.model.path)), ctx.startServer('canary', repository)]);
      const deployment: Deployment = {
        target: 'local',
        model: ctx.model,
        canaryTrafficPercent: percent,
        stable: { http: stable.http, grpc: stable.grpc, metricsUrl: stable.metricsUrl, repository: stable.repository },
        canary: { http: canary.http, grpc: canary.grpc, metricsUrl: canary.metricsUrl, repository: canary.repository },
      };
      writeFileSync(deploymentPath, `${JSON.stringify(deployment, null, 2)}\n`);
      return {
        outputs: { deployment: deploymentPath },
        summary: `local: stable at ${stable.http} (pid ${stable.pid}), canary at ${canary.http} (pid ${canary.pid}) with ${percent}% of the traffic; both stop when the run ends`,
        cacheable: false,
      };
    }
    const name = (ctx.params.name as string | undefined) ?? ctx.model;
    const manifestPath = join(ctx.outDir, 'inferenceservice.yaml');
    const deployment: Deployment = {
      target: 'kserve',
      model: ctx.model,
      canaryTrafficPercent: percent,
      name,
      namespace: ctx.params.namespace as string,
      storageUri: ctx.params.storage_uri as string,
      runtime: ctx.params.runtime as string | undefined,
      manifest: manifestPath,
      applied: false,
      repository,
    };
    writeFileSync(
      manifestPath,
      inferenceServiceManifest({
        ...deployment,
        annotations: { 'nereid.io/pipeline': ctx.pipelineName, 'nereid.io/package-hash': ctx.inputs.repository.hash },
      }),
    );
    let message = `wrote ${manifestPath}; not applied (apply: false)`;
    if (ctx.params.apply === true) {
      const result = await applyManifest(manifestPath, ctx.env);
      if (result.state === 'failed') throw new InferenceError('UNAVAILABLE', result.message);
      deployment.applied = result.state === 'applied';
      message = result.message;
    }
    writeFileSync(deploymentPath, `${JSON.stringify(deployment, null, 2)}\n`);
    return {
      outputs: { deployment: deploymentPath },
      summary: `kserve: InferenceService ${deployment.namespace}/${name} with canaryTrafficPercent ${percent}: ${message}`,
      cacheable: deployment.applied || ctx.params.apply !== true,
    };
  },
};
