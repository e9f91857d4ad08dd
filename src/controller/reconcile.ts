/**
 * The controller's decisions as a pure function: an InferenceService and what exists in the
 * cluster → the objects that should exist, the ones to delete, and the status to write.
 *
 * Each predictor spec (less its scaling and traffic fields) is a revision named
 * `<name>-predictor-<hash>`: a Deployment, a Service and, when it autoscales, an HPA of that
 * name. With `canaryTrafficPercent`, the newest revision takes that share of the traffic and
 * the last fully rolled-out one keeps the rest, split by an HTTPRoute; without it (or at 100)
 * the newest takes everything and older revisions are deleted. Every object is owned by the
 * InferenceService, so Kubernetes' garbage collector deletes them with it.
 */
import { createHash } from 'node:crypto';
import {
  FIELD_MANAGER,
  INFERENCE_SERVICE_API_VERSION,
  INFERENCE_SERVICE_KIND,
  namesRuntime,
  type Condition,
  type InferenceService,
  type InferenceServiceStatus,
  type KubeObject,
  type PredictorSpec,
  type TrafficTarget,
} from './inference-service.js';
import { MODEL_DIR, modelStorage, StorageUriError, type StorageImages } from './model-storage.js';

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
  inferenceService: 'serving.kserve.io/inferenceservice',
  revision: 'nereid.dev/revision',
} as const;

export const HTTP_PORT = 8080;
export const GRPC_PORT = 9000;
export const METRICS_PORT = 8002;
/** Longer than the server's --exit-timeout-secs below plus its quiet period. */
const TERMINATION_GRACE_SECONDS = 45;
const EXIT_TIMEOUT_SECS = 30;

/**
 * The custom metrics (served by k8s/prometheus-adapter/rules.yaml) an HPA uses for KServe's
 * request-based scale metrics; cpu and memory are resource metrics.
 */
export const SCALE_METRICS = {
  concurrency: 'nv_inference_pending_request_count',
  rps: 'nereid_requests_per_second',
} as const;
const DEFAULT_SCALE_TARGET = { cpu: 80, memory: 80, concurrency: 1, rps: 100 } as const;

export interface ReconcileOptions {
  /** The runtime name an InferenceService's predictor must name (`kserve-nereid`). */
  runtime: string;
  /** Nereid's image, run in every predictor pod. */
  image: string;
  storageImages: StorageImages;
  /** The Gateway the HTTPRoute attaches to; null: no HTTPRoute (in-cluster Service only). */
  gateway: { name: string; namespace: string } | null;
  /** External host names are `<name>-<namespace>.<domain>`, as KServe's default domain template. */
  domain: string;
  clusterDomain: string;
}

/** What exists in the cluster for one InferenceService. */
export interface Observed {
  /** The Deployments labelled with this InferenceService, with their status. */
  deployments: KubeObject[];
  /** Its HorizontalPodAutoscalers. */
  autoscalers?: KubeObject[];
  /** Its HTTPRoute with status, if it exists. */
  route?: KubeObject;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export type ReconcileResult =
  | { action: 'ignore'; reason: string }
  | { action: 'sync'; apply: KubeObject[]; delete: ObjectRef[]; status: InferenceServiceStatus };

const SCALING_FIELDS = new Set(['minReplicas', 'maxReplicas', 'scaleTarget', 'scaleMetric', 'canaryTrafficPercent']);

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The revision a predictor spec makes: changing the model or the pod makes a new one; scaling does not. */
export function revisionName(isvc: InferenceService): string {
  const identity = Object.fromEntries(Object.entries(isvc.spec.predictor).filter(([k]) => !SCALING_FIELDS.has(k)));
  const hash = createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 8);
  // A Service name is a DNS label: 63 characters at most.
  return `${isvc.metadata.name.slice(0, 63 - '-predictor-'.length - hash.length)}-predictor-${hash}`;
}

function ownerReference(isvc: InferenceService) {
  return {
    apiVersion: INFERENCE_SERVICE_API_VERSION,
    kind: INFERENCE_SERVICE_KIND,
    name: isvc.metadata.name,
    uid: isvc.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

function metadata(isvc: InferenceService, name: string, labels: Record<string, string>) {
  return {
    name,
    namespace: isvc.metadata.namespace,
    labels: { [LABELS.managedBy]: FIELD_MANAGER, [LABELS.component]: 'predictor', [LABELS.inferenceService]: isvc.metadata.name, ...labels },
    ownerReferences: [ownerReference(isvc)],
  };
}

interface Scaling {
  replicas: number;
  autoscale?: { min: number; max: number; metric: keyof typeof DEFAULT_SCALE_TARGET; target: number };
}

function scaling(predictor: PredictorSpec): Scaling {
  // An HPA cannot scale to zero: at least one replica.
  const min = Math.max(1, predictor.minReplicas ?? 1);
  const max = predictor.maxReplicas ?? 0;
  if (max <= min) return { replicas: min };
  const metric = predictor.scaleMetric ?? 'cpu';
  return { replicas: min, autoscale: { min, max, metric, target: predictor.scaleTarget ?? DEFAULT_SCALE_TARGET[metric] } };
}

const POD_FIELDS = ['nodeSelector', 'tolerations', 'affinity', 'serviceAccountName', 'imagePullSecrets', 'priorityClassName', 'runtimeClassName', 'topologySpreadConstraints'];

function probe(path: string, periodSeconds: number, failureThreshold: number) {
  return { httpGet: { path, port: HTTP_PORT }, periodSeconds, failureThreshold };
}

function deployment(isvc: InferenceService, revision: string, scale: Scaling, options: ReconcileOptions): KubeObject {
  const predictor = isvc.spec.predictor;
  const model = predictor.model ?? {};
  const storage = modelStorage(model.storageUri, options.storageImages);
  const podLabels = { [LABELS.inferenceService]: isvc.metadata.name, [LABELS.revision]: revision, [LABELS.component]: 'predictor' };
  const pod = Object.fromEntries(POD_FIELDS.filter((f) => predictor[f] !== undefined).map((f) => [f, predictor[f]]));
  const container = {
    name: 'kserve-container',
    image: options.image,
    args: [
      'serve',
      `--model-repository=${MODEL_DIR}`,
      `--http-port=${HTTP_PORT}`,
      `--grpc-port=${GRPC_PORT}`,
      `--metrics-port=${METRICS_PORT}`,
      `--exit-timeout-secs=${EXIT_TIMEOUT_SECS}`,
      ...(model.args ?? []),
    ],
    ports: [
      { name: 'http1', containerPort: HTTP_PORT, protocol: 'TCP' },
      { name: 'h2c', containerPort: GRPC_PORT, protocol: 'TCP' },
      { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
    ],
    ...(model.env !== undefined ? { env: model.env } : {}),
    ...(model.resources !== undefined ? { resources: model.resources } : {}),
    startupProbe: probe('/v2/health/live', 2, 150),
    readinessProbe: probe('/v2/health/ready', 5, 2),
    livenessProbe: probe('/v2/health/live', 10, 6),
    volumeMounts: [storage.volumeMount],
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(isvc, revision, { [LABELS.revision]: revision }),
    spec: {
      // Under an HPA the replica count is the HPA's to set.
      ...(scale.autoscale ? {} : { replicas: scale.replicas }),
      selector: { matchLabels: podLabels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: podLabels, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS_PORT), 'prometheus.io/path': '/metrics' } },
        spec: {
          ...pod,
          // SIGTERM drains the server; no preStop hook is needed.
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
          ...(storage.initContainers.length > 0 ? { initContainers: storage.initContainers } : {}),
          containers: [container],
          volumes: storage.volumes,
        },
      },
    },
  };
}

function servicePorts() {
  return [
    { name: 'http', port: 80, targetPort: HTTP_PORT, protocol: 'TCP' },
    { name: 'grpc', port: GRPC_PORT, targetPort: GRPC_PORT, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
    { name: 'metrics', port: METRICS_PORT, targetPort: METRICS_PORT, protocol: 'TCP' },
  ];
}

function revisionService(isvc: InferenceService, revision: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(isvc, revision, { [LABELS.revision]: revision }),
    spec: { type: 'ClusterIP', selector: { [LABELS.inferenceService]: isvc.metadata.name, [LABELS.revision]: revision }, ports: servicePorts() },
  };
}

/** The in-cluster address of every revision (unweighted; the HTTPRoute applies the weights). */
function predictorService(isvc: InferenceService): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(isvc, `${isvc.metadata.name}-predictor`, {}),
    spec: { type: 'ClusterIP', selector: { [LABELS.inferenceService]: isvc.metadata.name, [LABELS.component]: 'predictor' }, ports: servicePorts() },
  };
}

function autoscaler(isvc: InferenceService, revision: string, autoscale: NonNullable<Scaling['autoscale']>): KubeObject {
  const metric =
    autoscale.metric === 'cpu' || autoscale.metric === 'memory'
      ? { type: 'Resource', resource: { name: autoscale.metric, target: { type: 'Utilization', averageUtilization: autoscale.target } } }
      : { type: 'Pods', pods: { metric: { name: SCALE_METRICS[autoscale.metric] }, target: { type: 'AverageValue', averageValue: String(autoscale.target) } } };
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: metadata(isvc, revision, { [LABELS.revision]: revision }),
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: revision }, minReplicas: autoscale.min, maxReplicas: autoscale.max, metrics: [metric] },
  };
}

function httpRoute(isvc: InferenceService, traffic: TrafficTarget[], gateway: NonNullable<ReconcileOptions['gateway']>, host: string): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: metadata(isvc, isvc.metadata.name, {}),
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: gateway.name, namespace: gateway.namespace }],
      hostnames: [host],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: traffic.map((t) => ({ group: '', kind: 'Service', name: t.revisionName, port: 80, weight: t.percent })),
        },
      ],
    },
  };
}

function conditionTrue(object: KubeObject | undefined, type: string): boolean {
  return (object?.status?.conditions as { type: string; status: string }[] | undefined)?.some((c) => c.type === type && c.status === 'True') ?? false;
}

/** A revision serves once its Deployment has seen its latest spec and has an available replica. */
function revisionReady(deployment: KubeObject | undefined): boolean {
  if (!deployment) return false;
  const status = deployment.status ?? {};
  const seen = (status.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0);
  return seen && (status.availableReplicas ?? 0) >= 1 && conditionTrue(deployment, 'Available');
}

/** Keeps a condition's lastTransitionTime while its status stays the same, as Knative's condition sets do. */
function condition(previous: Condition[] | undefined, now: string, type: string, ready: boolean, reason?: string, message?: string): Condition {
  const status = ready ? 'True' : 'False';
  const before = previous?.find((c) => c.type === type);
  return {
    type,
    status,
    lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
    ...(reason !== undefined ? { reason } : {}),
    ...(message !== undefined ? { message } : {}),
  };
}

export function reconcile(isvc: InferenceService, observed: Observed, options: ReconcileOptions, now: string): ReconcileResult {
  if (!namesRuntime(isvc, options.runtime)) {
    return { action: 'ignore', reason: `its predictor names runtime '${String(isvc.spec?.predictor?.model?.runtime ?? '(none)')}', not '${options.runtime}'` };
  }
  // Deleting: the garbage collector removes what the InferenceService owns.
  if (isvc.metadata.deletionTimestamp) return { action: 'ignore', reason: 'it is being deleted' };

  const { name, namespace } = isvc.metadata as { name: string; namespace: string };
  const predictor = isvc.spec.predictor;
  const previous = isvc.status ?? {};
  const previousPredictor = previous.components?.predictor ?? {};
  const latest = revisionName(isvc);
  const byName = new Map(observed.deployments.map((d) => [d.metadata.name, d]));
  const rolledOut = previousPredictor.latestRolledoutRevision;
  const stable = rolledOut !== undefined && rolledOut !== latest && byName.has(rolledOut) ? rolledOut : undefined;
  const canary = predictor.canaryTrafficPercent;

  const traffic: TrafficTarget[] =
    stable !== undefined && canary !== undefined && canary < 100
      ? [
          { revisionName: latest, percent: canary, latestRevision: true, tag: 'latest' },
          { revisionName: stable, percent: 100 - canary, latestRevision: false, tag: 'prev' },
        ]
      : [{ revisionName: latest, percent: 100, latestRevision: true }];
  const splitting = traffic.length > 1;

  const host = `${name}-${namespace}.${options.domain}`;
  const clusterUrl = `http://${name}-predictor.${namespace}.svc.${options.clusterDomain}`;
  const url = options.gateway ? `http://${host}` : clusterUrl;
  const predictorStatus = {
    latestCreatedRevision: latest,
    latestRolledoutRevision: splitting ? stable : latest,
    ...(splitting
      ? previousPredictor.previousRolledoutRevision !== undefined ? { previousRolledoutRevision: previousPredictor.previousRolledoutRevision } : {}
      : stable !== undefined ? { previousRolledoutRevision: stable } : previousPredictor.previousRolledoutRevision !== undefined ? { previousRolledoutRevision: previousPredictor.previousRolledoutRevision } : {}),
    traffic,
    url,
  };

  const scale = scaling(predictor);
  const apply: KubeObject[] = [];
  try {
    for (const target of traffic) {
      // The stable revision keeps the spec it was made from: only the latest is (re)written.
      if (target.revisionName === latest) apply.push(deployment(isvc, latest, scale, options));
    }
  } catch (err) {
    if (!(err instanceof StorageUriError)) throw err;
    const conditions = [
      condition(previous.conditions, now, 'IngressReady', false, 'PredictorNotCreated', 'the predictor could not be created'),
      condition(previous.conditions, now, 'PredictorReady', false, 'InvalidStorageUri', err.message),
      condition(previous.conditions, now, 'Ready', false, 'InvalidStorageUri', err.message),
    ];
    return { action: 'sync', apply: [], delete: [], status: { observedGeneration: isvc.metadata.generation, conditions, components: { predictor: { ...previousPredictor } } } };
  }
  for (const target of traffic) {
    apply.push(revisionService(isvc, target.revisionName));
    if (scale.autoscale) apply.push(autoscaler(isvc, target.revisionName, scale.autoscale));
  }
  apply.push(predictorService(isvc));
  if (options.gateway) apply.push(httpRoute(isvc, traffic, options.gateway, host));

  const wanted = new Set(traffic.map((t) => t.revisionName));
  const stale = observed.deployments.map((d) => d.metadata.name).filter((n) => !wanted.has(n)).sort();
  const remove: ObjectRef[] = stale.flatMap((revision) => [
    { apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: revision },
    { apiVersion: 'v1', kind: 'Service', namespace, name: revision },
  ]);
  // Also an HPA left behind by autoscaling that was turned off: it would keep resizing its Deployment.
  for (const hpa of observed.autoscalers ?? []) {
    const revision = hpa.metadata.name;
    if (!wanted.has(revision) || !scale.autoscale) remove.push({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespace, name: revision });
  }

  const notReady = traffic.filter((t) => t.percent > 0 && !revisionReady(byName.get(t.revisionName))).map((t) => t.revisionName);
  const predictorReady = notReady.length === 0;
  const parents = (observed.route?.status?.parents ?? []) as { conditions?: { type: string; status: string }[] }[];
  const ingressReady = options.gateway === null || parents.some((p) => p.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True'));
  const latestReady = revisionReady(byName.get(latest)) ? latest : previousPredictor.latestReadyRevision;
  const conditions = [
    ingressReady
      ? condition(previous.conditions, now, 'IngressReady', true)
      : condition(previous.conditions, now, 'IngressReady', false, 'RouteNotAccepted', `HTTPRoute ${name} is not accepted by Gateway ${options.gateway?.namespace}/${options.gateway?.name} yet`),
    predictorReady
      ? condition(previous.conditions, now, 'PredictorReady', true)
      : condition(previous.conditions, now, 'PredictorReady', false, 'RevisionNotReady', `revision ${notReady.join(', ')} has no available replica`),
    predictorReady && ingressReady ? condition(previous.conditions, now, 'Ready', true) : condition(previous.conditions, now, 'Ready', false, predictorReady ? 'RouteNotAccepted' : 'RevisionNotReady'),
  ];
  return {
    action: 'sync',
    apply,
    delete: remove,
    status: {
      observedGeneration: isvc.metadata.generation,
      url,
      address: { url: clusterUrl },
      conditions,
      components: { predictor: { ...predictorStatus, ...(latestReady !== undefined ? { latestReadyRevision: latestReady } : {}) } },
    },
  };
}
