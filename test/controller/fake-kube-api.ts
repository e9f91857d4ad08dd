/**
 * An in-process HTTP server that serves the Kubernetes API paths the controller uses, with
 * the semantics its retry paths depend on: discovery, list with a resourceVersion, watch
 * streams from a resourceVersion (410 Gone once the history is compacted), server-side apply
 * (no new resourceVersion when nothing changed, schema validation as the API server's 422),
 * the status subresource with optimistic concurrency (409 Conflict), and deletion with the
 * garbage collector's cascade through ownerReferences (dependents of a deleted owner go too).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import type { KubeObject } from '../../src/controller/index.js';
import { validateManifest, type Manifest } from '../k8s/manifest-validation.js';

interface ResourceType {
  groupVersion: string;
  plural: string;
  kind: string;
}

const TYPES: ResourceType[] = [
  { groupVersion: 'v1', plural: 'services', kind: 'Service' },
  { groupVersion: 'apps/v1', plural: 'deployments', kind: 'Deployment' },
  { groupVersion: 'autoscaling/v2', plural: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler' },
  { groupVersion: 'gateway.networking.k8s.io/v1', plural: 'httproutes', kind: 'HTTPRoute' },
  { groupVersion: 'serving.kserve.io/v1beta1', plural: 'inferenceservices', kind: 'InferenceService' },
];

interface Watcher {
  type: ResourceType;
  namespace?: string;
  selector: Record<string, string>;
  res: ServerResponse;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: URLSearchParams;
  status: number;
}

/** A fault a test injects: answer one request with this status instead of serving it. */
export type Interceptor = (method: string, path: string, query: URLSearchParams) => { status: number; message: string } | undefined;

function parseSelector(text: string | null): Record<string, string> {
  if (!text) return {};
  return Object.fromEntries(text.split(',').map((pair) => pair.split('=') as [string, string]));
}

function matches(object: KubeObject, namespace: string | undefined, selector: Record<string, string>): boolean {
  if (namespace && object.metadata.namespace !== namespace) return false;
  return Object.entries(selector).every(([k, v]) => object.metadata.labels?.[k] === v);
}

function statusBody(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const REASONS: Record<number, string> = { 404: 'NotFound', 409: 'Conflict', 410: 'Expired', 422: 'Invalid', 500: 'InternalError' };

export class FakeKubeApi {
  private readonly server: Server;
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: { type: ResourceType; event: string; object: KubeObject; rv: number }[] = [];
  private readonly watchers = new Set<Watcher>();
  private version = 1000;
  private compactedBelow = 0;
  readonly requests: RequestRecord[] = [];
  /** Field managers of the server-side applies received. */
  readonly fieldManagers = new Set<string>();
  interceptors: Interceptor[] = [];
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: Error) => this.send(res, 500, statusBody(500, 'InternalError', err.message)));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Ends every open watch stream, as an API server does when its watch timeout passes. */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Forgets the event history: watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.compactedBelow = this.version + 1;
    this.history.length = 0;
  }

  get resourceVersion(): number {
    return this.version;
  }

  private typeOf(kindOrPlural: string): ResourceType {
    const type = TYPES.find((t) => t.kind === kindOrPlural || t.plural === kindOrPlural);
    if (!type) throw new Error(`the fake API server does not serve ${kindOrPlural}`);
    return type;
  }

  private key(type: ResourceType, namespace: string, name: string): string {
    return `${type.groupVersion}/${type.plural}/${namespace}/${name}`;
  }

  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    const object = this.objects.get(this.key(this.typeOf(kind), namespace, name));
    return object && structuredClone(object);
  }

  list(kind: string, namespace?: string): KubeObject[] {
    const type = this.typeOf(kind);
    return [...this.objects.entries()].filter(([k, o]) => k.startsWith(`${type.groupVersion}/${type.plural}/`) && (!namespace || o.metadata.namespace === namespace)).map(([, o]) => structuredClone(o));
  }

  private record(type: ResourceType, event: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject): void {
    this.history.push({ type, event, object: structuredClone(object), rv: Number(object.metadata.resourceVersion) });
    for (const w of this.watchers) {
      if (w.type === type && matches(object, w.namespace, w.selector)) w.res.write(`${JSON.stringify({ type: event, object })}\n`);
    }
  }

  /** Creates an object as a user's kubectl would. */
  create(object: KubeObject): KubeObject {
    const type = this.typeOf(object.kind);
    const stored: KubeObject = structuredClone(object);
    stored.metadata = { ...stored.metadata, uid: randomUUID(), generation: 1, resourceVersion: String(++this.version) };
    this.objects.set(this.key(type, stored.metadata.namespace!, stored.metadata.name), stored);
    this.record(type, 'ADDED', stored);
    return structuredClone(stored);
  }

  /** Changes an object's spec (a new generation) or its status, as users and other controllers do. */
  update(kind: string, namespace: string, name: string, change: (object: KubeObject) => void): KubeObject {
    const type = this.typeOf(kind);
    const stored = this.objects.get(this.key(type, namespace, name));
    if (!stored) throw new Error(`no ${kind} ${namespace}/${name}`);
    const before = structuredClone(stored.spec);
    change(stored);
    if (!isDeepStrictEqual(before, stored.spec)) stored.metadata.generation = (stored.metadata.generation ?? 0) + 1;
    stored.metadata.resourceVersion = String(++this.version);
    this.record(type, 'MODIFIED', stored);
    return structuredClone(stored);
  }

  remove(kind: string, namespace: string, name: string): void {
    const type = this.typeOf(kind);
    const key = this.key(type, namespace, name);
    const stored = this.objects.get(key);
    if (!stored) return;
    this.objects.delete(key);
    stored.metadata.resourceVersion = String(++this.version);
    this.record(type, 'DELETED', stored);
    // The garbage collector: dependents go with their owner.
    for (const [depKey, dependent] of [...this.objects]) {
      if (dependent.metadata.ownerReferences?.some((ref) => ref.uid === stored.metadata.uid)) {
        const depType = TYPES.find((t) => depKey.startsWith(`${t.groupVersion}/${t.plural}/`))!;
        this.remove(depType.kind, dependent.metadata.namespace!, dependent.metadata.name);
      }
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async body(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://fake');
    const method = req.method!;
    const record: RequestRecord = { method, path: url.pathname, query: url.searchParams, status: 200 };
    this.requests.push(record);
    const reply = (status: number, body: unknown) => {
      record.status = status;
      this.send(res, status, body);
    };
    for (const intercept of this.interceptors) {
      const fault = intercept(method, url.pathname, url.searchParams);
      if (fault) return reply(fault.status, statusBody(fault.status, REASONS[fault.status] ?? 'Unknown', fault.message));
    }

    const discovery = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(url.pathname);
    if (discovery && method === 'GET') {
      const groupVersion = discovery[1] ?? discovery[2];
      const resources = TYPES.filter((t) => t.groupVersion === groupVersion).map((t) => ({ name: t.plural, singularName: t.kind.toLowerCase(), namespaced: true, kind: t.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }));
      if (resources.length === 0) return reply(404, statusBody(404, 'NotFound', `the server could not find the requested resource (${groupVersion})`));
      return reply(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources });
    }

    const path = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(url.pathname);
    if (!path) return reply(404, statusBody(404, 'NotFound', `no route for ${url.pathname}`));
    const [, core, grouped, namespace, plural, name, subresource] = path;
    const type = TYPES.find((t) => t.groupVersion === (core ?? grouped) && t.plural === plural);
    if (!type) return reply(404, statusBody(404, 'NotFound', `the server could not find the requested resource (${core ?? grouped} ${plural})`));

    if (name === undefined) {
      if (method !== 'GET') return reply(405, statusBody(405, 'MethodNotAllowed', method));
      const selector = parseSelector(url.searchParams.get('labelSelector'));
      if (url.searchParams.get('watch') === 'true') return this.watch(type, namespace, selector, Number(url.searchParams.get('resourceVersion') ?? '0'), res);
      const items = [...this.objects.values()].filter((o) => o.kind === type.kind && o.apiVersion === type.groupVersion && matches(o, namespace, selector));
      return reply(200, { kind: `${type.kind}List`, apiVersion: type.groupVersion, metadata: { resourceVersion: String(this.version) }, items });
    }

    const key = this.key(type, namespace!, name);
    const stored = this.objects.get(key);
    const notFound = () => reply(404, statusBody(404, 'NotFound', `${type.plural} "${name}" not found`));
    if (method === 'GET') return stored ? reply(200, stored) : notFound();
    if (method === 'DELETE') {
      if (!stored) return notFound();
      this.remove(type.kind, namespace!, name);
      return reply(200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name, kind: type.plural } });
    }
    if (method === 'PUT' && subresource === 'status') {
      if (!stored) return notFound();
      const body = JSON.parse(await this.body(req)) as KubeObject;
      if (body.metadata.resourceVersion !== stored.metadata.resourceVersion) {
        return reply(409, statusBody(409, 'Conflict', `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`));
      }
      stored.status = body.status;
      stored.metadata.resourceVersion = String(++this.version);
      this.record(type, 'MODIFIED', stored);
      return reply(200, stored);
    }
    if (method === 'PATCH' && !subresource) {
      if (req.headers['content-type'] !== 'application/apply-patch+yaml') return reply(415, statusBody(415, 'UnsupportedMediaType', String(req.headers['content-type'])));
      const fieldManager = url.searchParams.get('fieldManager');
      if (!fieldManager) return reply(422, statusBody(422, 'Invalid', 'fieldManager is required for apply requests'));
      this.fieldManagers.add(fieldManager);
      const applied = parse(await this.body(req)) as KubeObject;
      if (applied.kind !== type.kind || applied.metadata?.name !== name || applied.metadata?.namespace !== namespace) {
        return reply(400, statusBody(400, 'BadRequest', 'the object in the body does not match the request path'));
      }
      const problems = await validateManifest(applied as unknown as Manifest);
      if (problems.length > 0) return reply(422, statusBody(422, 'Invalid', `${type.kind} "${name}" is invalid: ${problems.join('; ')}`));
      const next: KubeObject = stored ? structuredClone(stored) : { apiVersion: applied.apiVersion, kind: applied.kind, metadata: { name, namespace, uid: randomUUID(), generation: 0 } };
      next.metadata.labels = applied.metadata.labels;
      next.metadata.annotations = applied.metadata.annotations;
      next.metadata.ownerReferences = applied.metadata.ownerReferences;
      next.spec = applied.spec;
      if (stored && isDeepStrictEqual(next, stored)) return reply(200, stored);
      if (!stored || !isDeepStrictEqual(stored.spec, next.spec)) next.metadata.generation = (next.metadata.generation ?? 0) + 1;
      next.metadata.resourceVersion = String(++this.version);
      this.objects.set(key, next);
      this.record(type, stored ? 'MODIFIED' : 'ADDED', next);
      reply(stored ? 200 : 201, next);
      // The garbage collector also removes a dependent whose owner is already gone (an apply
      // that raced with the owner's deletion).
      const owners = next.metadata.ownerReferences ?? [];
      if (owners.length > 0 && !owners.some((ref) => [...this.objects.values()].some((o) => o.metadata.uid === ref.uid))) {
        setImmediate(() => this.remove(type.kind, namespace!, name));
      }
      return;
    }
    return reply(405, statusBody(405, 'MethodNotAllowed', `${method} ${url.pathname}`));
  }

  private watch(type: ResourceType, namespace: string | undefined, selector: Record<string, string>, from: number, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from < this.compactedBelow) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', `too old resource version: ${from} (${this.compactedBelow})`) })}\n`);
      return;
    }
    for (const past of this.history) {
      if (past.type === type && past.rv > from && matches(past.object, namespace, selector)) res.write(`${JSON.stringify({ type: past.event, object: past.object })}\n`);
    }
    const watcher: Watcher = { type, namespace, selector, res };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }
}
