/**
 * The Kubernetes API calls the controller makes, over @kubernetes/client-node: list and
 * watch from a resourceVersion, server-side apply, delete, get, and the status subresource.
 */
import { ApiException, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { FIELD_MANAGER, type InferenceService, type KubeObject } from './inference-service.js';
import type { ObjectRef } from './reconcile.js';

export interface Resource {
  group: string;
  version: string;
  plural: string;
}

export const RESOURCES = {
  inferenceServices: { group: 'serving.kserve.io', version: 'v1beta1', plural: 'inferenceservices' },
  deployments: { group: 'apps', version: 'v1', plural: 'deployments' },
  autoscalers: { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers' },
  httpRoutes: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' },
} satisfies Record<string, Resource>;

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: any;
}

/** An API error's HTTP status, from a request or from a watch that failed to open. */
export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** One line about an API error: the status code and the API server's own message. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = (typeof err.body === 'string' ? safeJson(err.body) : err.body) as { message?: string } | undefined;
    return `HTTP ${err.code}: ${body?.message ?? String(err.body)}`;
  }
  return (err as Error)?.message ?? String(err);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

function collectionPath(resource: Resource, namespace?: string): string {
  const base = resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  return namespace ? `${base}/namespaces/${namespace}/${resource.plural}` : `${base}/${resource.plural}`;
}

export class KubeClient {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly watcher: Watch;

  constructor(config: KubeConfig) {
    this.objects = KubernetesObjectApi.makeApiClient(config);
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.watcher = new Watch(config);
  }

  /** Lists a resource under /apis (raw JSON, as the server sent it). */
  async list(resource: Resource, options: { namespace?: string; labelSelector?: string } = {}): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const { group, version, plural } = resource;
    const list = (
      options.namespace
        ? await this.custom.listNamespacedCustomObject({ group, version, plural, namespace: options.namespace, labelSelector: options.labelSelector })
        : await this.custom.listClusterCustomObject({ group, version, plural, labelSelector: options.labelSelector })
    ) as { items: KubeObject[]; metadata: { resourceVersion: string } };
    return { items: list.items, resourceVersion: list.metadata.resourceVersion };
  }

  /** Watches from `resourceVersion`; `done` is called once, with the error or null when the server closed the stream. */
  watch(resource: Resource, options: { namespace?: string; labelSelector?: string; resourceVersion: string }, onEvent: (event: WatchEvent) => void, done: (err: unknown) => void): Promise<AbortController> {
    return this.watcher.watch(
      collectionPath(resource, options.namespace),
      { resourceVersion: options.resourceVersion, labelSelector: options.labelSelector, allowWatchBookmarks: true },
      (type, object) => onEvent({ type: type as WatchEvent['type'], object }),
      done,
    );
  }

  /** Server-side apply: the controller owns the fields it sends and takes them over from others. */
  async apply(object: KubeObject): Promise<void> {
    await this.objects.patch(object as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /** Deletes; an object that is already gone is fine. */
  async delete(ref: ObjectRef): Promise<void> {
    try {
      await this.objects.delete({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } }, undefined, undefined, undefined, undefined, 'Background');
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }

  /** One object of a resource served under /apis (custom resources and grouped built-ins alike). */
  async get(resource: Resource, namespace: string, name: string): Promise<KubeObject | undefined> {
    const { group, version, plural } = resource;
    try {
      return (await this.custom.getNamespacedCustomObject({ group, version, plural, namespace, name })) as KubeObject;
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Replaces the status subresource; the object's resourceVersion makes a stale write fail with 409. */
  async replaceStatus(isvc: InferenceService): Promise<InferenceService> {
    const { group, version, plural } = RESOURCES.inferenceServices;
    return (await this.custom.replaceNamespacedCustomObjectStatus({
      group,
      version,
      plural,
      namespace: isvc.metadata.namespace!,
      name: isvc.metadata.name,
      body: isvc,
      fieldManager: FIELD_MANAGER,
    })) as InferenceService;
  }
}
