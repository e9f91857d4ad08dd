/**
 * Offline validation of Kubernetes manifests: built-in kinds against the OpenAPI schemas that
 * `kubernetes-models` ships, Gateway API and Prometheus Operator kinds against theirs, KServe
 * kinds against kserve-schemas.ts (their pod and container fields as a Kubernetes PodSpec).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { INFERENCE_SERVICE_SCHEMA, SERVING_RUNTIME_SCHEMA } from './kserve-schemas.js';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  [field: string]: unknown;
}

export function parseManifests(text: string, source: string): Manifest[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0].message}`);
    const value = doc.toJS();
    return value === null ? [] : [value as Manifest];
  });
}

export function readManifests(file: string): Manifest[] {
  return parseManifests(readFileSync(file, 'utf8'), file);
}

/** `kubectl kustomize DIR`: what `kubectl apply -k DIR` would send. */
export function kustomize(dir: string): Manifest[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return parseManifests(out, `kubectl kustomize ${dir}`);
}

type ModelClass = new (data: unknown) => { validate(): void };

function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'gateway.networking.k8s.io') return `@kubernetes-models/gateway-api/${group}/${version}/${kind}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
}

async function validateModel(apiVersion: string, kind: string, data: unknown): Promise<string[]> {
  let model: ModelClass | undefined;
  try {
    model = ((await import(modelModule(apiVersion, kind))) as Record<string, ModelClass>)[kind];
  } catch {
    model = undefined;
  }
  if (!model) return [`no schema for ${apiVersion} ${kind}`];
  try {
    new model(data).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

const ajv = new Ajv({ allErrors: true, strict: true });
const kserveValidators = {
  ServingRuntime: ajv.compile(SERVING_RUNTIME_SCHEMA),
  ClusterServingRuntime: ajv.compile(SERVING_RUNTIME_SCHEMA),
  InferenceService: ajv.compile(INFERENCE_SERVICE_SCHEMA),
};

const POD_FIELDS_OF_RUNTIME = ['containers', 'volumes', 'nodeSelector', 'affinity', 'tolerations', 'imagePullSecrets', 'hostIPC'];
const POD_FIELDS_OF_PREDICTOR = ['containers', 'initContainers', 'volumes', 'nodeSelector', 'affinity', 'tolerations', 'imagePullSecrets', 'serviceAccountName', 'securityContext', 'priorityClassName', 'schedulerName', 'runtimeClassName', 'terminationGracePeriodSeconds', 'hostIPC', 'dnsPolicy', 'topologySpreadConstraints'];

function pick(source: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((f) => source[f] !== undefined).map((f) => [f, source[f]]));
}

async function validateKServe(manifest: Manifest): Promise<string[]> {
  const validator = kserveValidators[manifest.kind as keyof typeof kserveValidators];
  if (!validator || !manifest.apiVersion.startsWith('serving.kserve.io/')) return [`no schema for ${manifest.apiVersion} ${manifest.kind}`];
  if (!validator(manifest)) return (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : ''}`);
  const spec = manifest.spec as Record<string, any>;
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'check' } };
  if (manifest.kind === 'InferenceService') {
    const predictor = spec.predictor as Record<string, any>;
    const { modelFormat: _f, runtime: _r, protocolVersion: _p, storageUri: _s, storage: _st, ...containerFields } = (predictor.model ?? {}) as Record<string, unknown>;
    const modelContainer = { name: 'kserve-container', ...containerFields };
    const containers = [...(predictor.model ? [modelContainer] : []), ...((predictor.containers as unknown[]) ?? [])];
    return validateModel('v1', 'Pod', { ...pod, spec: { ...pick(predictor, POD_FIELDS_OF_PREDICTOR), containers } });
  }
  return validateModel('v1', 'Pod', { ...pod, spec: pick(spec, POD_FIELDS_OF_RUNTIME) });
}

/** The schema violations of one manifest ([] when it is valid). */
export async function validateManifest(manifest: Manifest): Promise<string[]> {
  if (typeof manifest.apiVersion !== 'string' || typeof manifest.kind !== 'string') return ['apiVersion and kind are required'];
  if (manifest.apiVersion.startsWith('serving.kserve.io/')) return validateKServe(manifest);
  return validateModel(manifest.apiVersion, manifest.kind, manifest);
}
