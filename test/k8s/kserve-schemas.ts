/**
 * JSON schemas of the KServe resources k8s/ ships, written from KServe's CRDs
 * (serving.kserve.io ServingRuntimeSpec, InferenceServiceSpec, PredictorSpec, ModelSpec):
 * the fields KServe declares, closed to anything else so that a misspelt field fails.
 * Pod-level and container fields are checked against the Kubernetes schemas separately.
 */

const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const metadata = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }, namespace: { type: 'string' }, labels: stringMap, annotations: stringMap },
  additionalProperties: false,
};

/** PodSpec fields KServe inlines; their shapes are validated as a Kubernetes PodSpec. */
const POD_SPEC_FIELDS = [
  'containers', 'initContainers', 'volumes', 'nodeSelector', 'affinity', 'tolerations', 'imagePullSecrets',
  'serviceAccountName', 'securityContext', 'priorityClassName', 'schedulerName', 'runtimeClassName',
  'terminationGracePeriodSeconds', 'hostIPC', 'dnsPolicy', 'topologySpreadConstraints',
];
/** Container fields a ModelSpec inlines. */
const CONTAINER_FIELDS = ['name', 'image', 'args', 'command', 'env', 'envFrom', 'ports', 'resources', 'volumeMounts', 'readinessProbe', 'livenessProbe', 'startupProbe', 'securityContext', 'imagePullPolicy', 'workingDir'];

const open = (names: string[]) => Object.fromEntries(names.map((n) => [n, {}]));

export const SERVING_RUNTIME_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'serving.kserve.io/v1alpha1' },
    kind: { enum: ['ServingRuntime', 'ClusterServingRuntime'] },
    metadata,
    spec: {
      type: 'object',
      required: ['containers'],
      properties: {
        ...open(POD_SPEC_FIELDS),
        annotations: stringMap,
        labels: stringMap,
        supportedModelFormats: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string' }, version: { type: 'string' }, autoSelect: { type: 'boolean' }, priority: { type: 'integer', minimum: 1 } },
            additionalProperties: false,
          },
        },
        protocolVersions: { type: 'array', items: { enum: ['v1', 'v2', 'grpc-v1', 'grpc-v2', 'openAI'] } },
        multiModel: { type: 'boolean' },
        disabled: { type: 'boolean' },
        grpcEndpoint: { type: 'string' },
        grpcDataEndpoint: { type: 'string' },
        httpDataEndpoint: { type: 'string' },
        replicas: { type: 'integer', minimum: 0 },
        storageHelper: { type: 'object', properties: { disabled: { type: 'boolean' } }, additionalProperties: false },
        builtInAdapter: { type: 'object' },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

const modelSpec = {
  type: 'object',
  required: ['modelFormat'],
  properties: {
    ...open(CONTAINER_FIELDS),
    modelFormat: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, version: { type: 'string' } }, additionalProperties: false },
    runtime: { type: 'string' },
    protocolVersion: { enum: ['v1', 'v2', 'grpc-v1', 'grpc-v2'] },
    storageUri: { type: 'string', pattern: '^(s3|gs|pvc|https?|hf|oci)://' },
    storage: { type: 'object' },
  },
  additionalProperties: false,
};

export const INFERENCE_SERVICE_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'serving.kserve.io/v1beta1' },
    kind: { const: 'InferenceService' },
    metadata,
    spec: {
      type: 'object',
      required: ['predictor'],
      properties: {
        predictor: {
          type: 'object',
          properties: {
            ...open(POD_SPEC_FIELDS),
            model: modelSpec,
            minReplicas: { type: 'integer', minimum: 0 },
            maxReplicas: { type: 'integer', minimum: 0 },
            scaleTarget: { type: 'integer', minimum: 1 },
            scaleMetric: { enum: ['cpu', 'memory', 'concurrency', 'rps'] },
            containerConcurrency: { type: 'integer', minimum: 0 },
            timeout: { type: 'integer', minimum: 0 },
            canaryTrafficPercent: { type: 'integer', minimum: 0, maximum: 100 },
            labels: stringMap,
            annotations: stringMap,
            deploymentStrategy: { type: 'object' },
            logger: { type: 'object' },
            batcher: { type: 'object' },
          },
          additionalProperties: false,
        },
        transformer: { type: 'object' },
        explainer: { type: 'object' },
      },
      additionalProperties: false,
    },
    status: { type: 'object' },
  },
  additionalProperties: false,
};

