/**
 * Finds the Kubernetes credentials the way kubectl does (--kubeconfig, $KUBECONFIG,
 * ~/.kube/config) and then the pod's service account. @kubernetes/client-node would fall
 * back to an unauthenticated http://localhost:8080; the controller refuses to instead.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export class KubeConfigError extends Error {}

export interface KubeConfigSources {
  /** --kubeconfig */
  path?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
  tokenPath?: string;
}

export function loadKubeConfig(sources: KubeConfigSources = {}): { config: KubeConfig; source: string } {
  const env = sources.env ?? process.env;
  const config = new KubeConfig();
  const fromFiles = (files: string[], source: string) => {
    const missing = files.filter((f) => !existsSync(f));
    if (missing.length > 0) throw new KubeConfigError(`${source} names ${missing.join(', ')}, which does not exist`);
    config.loadFromFile(files[0]);
    for (const file of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(file);
      config.mergeConfig(more);
    }
    if (!config.getCurrentCluster()) throw new KubeConfigError(`${source}: the current context names no cluster`);
    return { config, source };
  };
  if (sources.path) return fromFiles([sources.path], `--kubeconfig ${sources.path}`);
  if (env.KUBECONFIG) return fromFiles(env.KUBECONFIG.split(delimiter).filter((f) => f !== ''), `KUBECONFIG=${env.KUBECONFIG}`);
  const home = join(sources.home ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFiles([home], home);
  const tokenPath = sources.tokenPath ?? SERVICE_ACCOUNT_TOKEN;
  if (env.KUBERNETES_SERVICE_HOST && existsSync(tokenPath)) {
    config.loadFromCluster();
    return { config, source: 'the in-cluster service account' };
  }
  throw new KubeConfigError(
    `no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, create ${home}, or run in a pod with a service account (KUBERNETES_SERVICE_HOST set and ${tokenPath} present)`,
  );
}
