/**
 * The KServe InferenceService a canary rollout applies: the predictor with the new
 * storage location and `canaryTrafficPercent`, so that KServe sends that share of the
 * traffic to the new revision and the rest to the last one rolled out. Promotion drops
 * the canary share (the new revision takes all traffic); roll-back sets it to 0.
 */
import { execFile } from 'node:child_process';
import { stringify } from 'yaml';

export interface InferenceServiceSpec {
  name: string;
  namespace: string;
  storageUri: string;
  /** Undefined: every request goes to the latest revision. */
  canaryTrafficPercent: number | undefined;
  runtime: string | undefined;
  annotations: Record<string, string>;
}

export function inferenceServiceManifest(spec: InferenceServiceSpec): string {
  const manifest = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: spec.name, namespace: spec.namespace, annotations: spec.annotations },
    spec: {
      predictor: {
        ...(spec.canaryTrafficPercent !== undefined ? { canaryTrafficPercent: spec.canaryTrafficPercent } : {}),
        model: {
          modelFormat: { name: 'triton' },
          ...(spec.runtime ? { runtime: spec.runtime } : {}),
          storageUri: spec.storageUri,
        },
      },
    },
  };
  return stringify(manifest);
}

function kubectl(args: string[], env: NodeJS.ProcessEnv): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', args, { timeout: 30_000, env }, (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}`.trim() || (err ? err.message : '') }));
  });
}

/** Applies the manifest with kubectl when there is a cluster to apply it to; says why not otherwise. */
export async function applyManifest(path: string, env: NodeJS.ProcessEnv): Promise<{ state: 'applied' | 'no-cluster' | 'failed'; message: string }> {
  const context = await kubectl(['config', 'current-context'], env);
  if (!context.ok) return { state: 'no-cluster', message: `no Kubernetes cluster configured (kubectl: ${context.output.split('\n')[0]}): wrote ${path}, not applied` };
  const applied = await kubectl(['apply', '-f', path], env);
  if (!applied.ok) return { state: 'failed', message: `kubectl apply -f ${path} (context ${context.output}) failed: ${applied.output}` };
  return { state: 'applied', message: `applied ${path} to context ${context.output}: ${applied.output}` };
}
