import { DEFAULT_STORAGE_IMAGES, NEREID_RUNTIME, runController, type ControllerOptions } from '../controller/index.js';
import { formatHelp, parseFlags, UsageError, type FlagSpec } from './flag-parser.js';

const DEFAULT_IMAGE = 'ghcr.io/nereid-project/nereid:0.1.0';

export const CONTROLLER_FLAGS: Readonly<Record<string, FlagSpec>> = {
  kubeconfig: { kind: 'string', help: 'The kubeconfig file to use.', defaultText: '$KUBECONFIG, ~/.kube/config, then the in-cluster service account' },
  namespace: { kind: 'string', help: 'Watch InferenceServices in this namespace only.', defaultText: 'all namespaces' },
  runtime: { kind: 'string', help: 'Reconcile InferenceServices whose predictor names this runtime.', defaultText: NEREID_RUNTIME },
  image: { kind: 'string', help: 'The Nereid image the predictor pods run.', defaultText: DEFAULT_IMAGE },
  gateway: { kind: 'string', help: "The Gateway API Gateway the HTTPRoutes attach to, NAMESPACE/NAME, or 'none' for no HTTPRoute.", defaultText: 'kserve/kserve-ingress-gateway' },
  domain: { kind: 'string', help: 'External host names are <name>-<namespace>.<domain>.', defaultText: 'example.com' },
  'cluster-domain': { kind: 'string', help: "The cluster's DNS domain, for the in-cluster URL.", defaultText: 'cluster.local' },
  'resync-secs': { kind: 'int', help: 'Seconds between reconciles of every InferenceService, changed or not.', defaultText: '300' },
  's3-image': { kind: 'string', help: 'Image of the init container that copies s3:// models.', defaultText: DEFAULT_STORAGE_IMAGES.s3 },
  'gs-image': { kind: 'string', help: 'Image of the init container that copies gs:// models.', defaultText: DEFAULT_STORAGE_IMAGES.gs },
  'http-image': { kind: 'string', help: 'Image of the init container that downloads http(s):// archives.', defaultText: DEFAULT_STORAGE_IMAGES.http },
  help: { kind: 'bool', help: 'Print this help.' },
};

export const CONTROLLER_USAGE = `Usage: nereid controller [flags]\n\nWatches KServe InferenceServices (serving.kserve.io/v1beta1) whose predictor names the Nereid\nruntime and reconciles them into Deployments, Services, HorizontalPodAutoscalers and a\nGateway API HTTPRoute that splits traffic between revisions (canaryTrafficPercent).\n\nFlags:\n${formatHelp(CONTROLLER_FLAGS)}`;

export function controllerOptionsFromArgs(args: readonly string[]): { help: true } | { help: false; kubeconfig?: string; options: Omit<ControllerOptions, 'log'> } {
  const v = parseFlags(args, CONTROLLER_FLAGS);
  if (v.help === true) return { help: true };
  const text = (name: string, fallback: string) => {
    const value = (v[name] as string | undefined) ?? fallback;
    if (value === '') throw new UsageError(`--${name} must not be empty`);
    return value;
  };
  const gatewayText = text('gateway', 'kserve/kserve-ingress-gateway');
  let gateway: { namespace: string; name: string } | null = null;
  if (gatewayText !== 'none') {
    const [namespace, name, extra] = gatewayText.split('/');
    if (!namespace || !name || extra !== undefined) throw new UsageError(`--gateway expects NAMESPACE/NAME or 'none', got '${gatewayText}'`);
    gateway = { namespace, name };
  }
  const resync = (v['resync-secs'] as number | undefined) ?? 300;
  if (resync < 1) throw new UsageError(`--resync-secs must be at least 1, got ${resync}`);
  return {
    help: false,
    kubeconfig: v.kubeconfig as string | undefined,
    options: {
      namespace: v.namespace as string | undefined,
      resyncMs: resync * 1000,
      retryBaseMs: 500,
      conflictRetries: 5,
      reconcile: {
        runtime: text('runtime', NEREID_RUNTIME),
        image: text('image', DEFAULT_IMAGE),
        storageImages: { s3: text('s3-image', DEFAULT_STORAGE_IMAGES.s3), gs: text('gs-image', DEFAULT_STORAGE_IMAGES.gs), http: text('http-image', DEFAULT_STORAGE_IMAGES.http) },
        gateway,
        domain: text('domain', 'example.com'),
        clusterDomain: text('cluster-domain', 'cluster.local'),
      },
    },
  };
}

export async function controller(args: readonly string[]): Promise<number> {
  const parsed = controllerOptionsFromArgs(args);
  if (parsed.help) {
    process.stdout.write(`${CONTROLLER_USAGE}\n`);
    return 0;
  }
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`);
  const stop = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  const result = await runController({ ...parsed.options, log }, parsed.kubeconfig, stop);
  if (result.error !== undefined) {
    process.stderr.write(`nereid controller: ${result.error}\n`);
    return 1;
  }
  log('stopped');
  return 0;
}
