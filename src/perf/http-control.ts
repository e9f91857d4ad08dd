/** ServerControl over the KServe v2 REST endpoints. */
import { InferenceError } from '../core/index.js';
import type { Endpoint } from './endpoint.js';
import { modelInfoFromConfig, modelInfoFromMetadata, type ModelInfo } from './model-info.js';
import type { ServerControl } from './server-control.js';
import { parseModelStats, type StatsSnapshot } from './server-stats.js';

const CONTROL_TIMEOUT_MS = 10_000;

/** The path prefix of a model, with its version when one is asked for. */
export function modelPath(model: string, version: string): string {
  const base = `/v2/models/${encodeURIComponent(model)}`;
  return version ? `${base}/versions/${encodeURIComponent(version)}` : base;
}

function causeText(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

export class HttpControl implements ServerControl {
  readonly endpoint: string;
  private readonly base: string;

  constructor(endpoint: Endpoint) {
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
    this.base = `http://${host}:${endpoint.port}`;
    this.endpoint = this.base;
  }

  private get(path: string): Promise<{ status: number; json: unknown; text: string }> {
    return this.request(path, {});
  }

  /** One exchange with a JSON answer (or none); only an unreachable server throws here. */
  private async request(path: string, init: RequestInit): Promise<{ status: number; json: unknown; text: string }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS) });
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${CONTROL_TIMEOUT_MS / 1000} s` : causeText(err);
      throw new InferenceError('UNAVAILABLE', `cannot reach the server at ${this.base} (${init.method ?? 'GET'} ${path}: ${reason})`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  private async postOk(path: string, body: unknown, what: string): Promise<void> {
    const { status, json, text } = await this.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (status !== 200) throw this.failure(status, json, text, `${what} (POST ${this.base}${path})`);
  }

  private async getOk(path: string, what: string): Promise<unknown> {
    const { status, json, text } = await this.get(path);
    if (status === 200) return json;
    throw this.failure(status, json, text, `${what} (GET ${this.base}${path})`);
  }

  /** The server's own `error` text, or the start of whatever it answered. */
  private failure(status: number, json: unknown, text: string, what: string): InferenceError {
    const message = (json as { error?: unknown } | undefined)?.error;
    return new InferenceError(
      status === 404 ? 'NOT_FOUND' : status === 503 ? 'UNAVAILABLE' : status === 501 ? 'UNSUPPORTED' : 'INVALID_ARG',
      `${what}: HTTP ${status}${message ? `: ${String(message)}` : text ? `: ${text.slice(0, 200)}` : ''}`,
    );
  }

  async extensions(): Promise<string[]> {
    const metadata = (await this.getOk('/v2', 'cannot read the server metadata')) as { extensions?: unknown };
    return Array.isArray(metadata?.extensions) ? metadata.extensions.map(String) : [];
  }

  async modelInfo(model: string, version: string): Promise<ModelInfo> {
    const path = modelPath(model, version);
    const metadata = await this.getOk(path, `cannot profile model '${model}'`);
    const ready = await this.get(`${path}/ready`);
    if (ready.status !== 200) {
      const reason = (ready.json as { error?: unknown } | undefined)?.error;
      throw new InferenceError('UNAVAILABLE', `model '${model}' is not ready at ${this.base}${reason ? `: ${String(reason)}` : ''}`);
    }
    const config = await this.get(`${path}/config`);
    if (config.status === 200) return modelInfoFromConfig(model, version, config.json, metadata);
    return modelInfoFromMetadata(model, version, metadata);
  }

  async modelStats(model: string, version: string): Promise<StatsSnapshot> {
    const answer = await this.getOk(`${modelPath(model, version)}/stats`, `cannot read the statistics of model '${model}'`);
    return parseModelStats(answer, model, version);
  }

  async registerSystemSharedMemory(region: string, key: string, byteSize: number): Promise<void> {
    await this.postOk(`/v2/systemsharedmemory/region/${encodeURIComponent(region)}/register`, { key, offset: 0, byte_size: byteSize }, `cannot register shared-memory region '${region}'`);
  }

  async unregisterSystemSharedMemory(region: string): Promise<void> {
    await this.postOk(`/v2/systemsharedmemory/region/${encodeURIComponent(region)}/unregister`, {}, `cannot unregister shared-memory region '${region}'`);
  }

  close(): void {}
}
