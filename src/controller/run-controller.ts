/**
 * `nereid controller`'s entry point. The Kubernetes client is loaded only here, on demand:
 * @kubernetes/client-node takes seconds to import, which `nereid serve` must not pay.
 */
import type { ControllerOptions } from './controller.js';

export interface RunControllerResult {
  /** Why it did not start (no credentials); undefined when it ran until the signal. */
  error?: string;
}

export async function runController(options: ControllerOptions, kubeconfig: string | undefined, stop: Promise<void>): Promise<RunControllerResult> {
  const { KubeConfigError, loadKubeConfig } = await import('./kube-config.js');
  let kube;
  try {
    kube = loadKubeConfig({ path: kubeconfig });
  } catch (err) {
    if (err instanceof KubeConfigError) return { error: err.message };
    throw err;
  }
  const { Controller } = await import('./controller.js');
  const { KubeClient } = await import('./kube-client.js');
  options.log(`using ${kube.source}: ${kube.config.getCurrentCluster()!.server}; reconciling InferenceServices of runtime '${options.reconcile.runtime}' in ${options.namespace ?? 'all namespaces'}`);
  const loop = new Controller(new KubeClient(kube.config), options);
  await Promise.race([loop.start(), stop]);
  await stop;
  loop.stop();
  return {};
}
