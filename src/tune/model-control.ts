/**
 * The repository API calls the tuner makes: read a model's configuration and reload it
 * with an override (the server must run with --model-control-mode explicit), over HTTP
 * or over gRPC (RepositoryModelLoad with the `config` parameter), as `-i` says.
 */
import { InferenceError } from '../core/index.js';
import { GrpcControl, parseEndpoint, type PerfProtocol } from '../perf/index.js';

export interface ModelControl {
  /** The configuration in the repository API's JSON form. */
  config(model: string): Promise<Record<string, unknown>>;
  /** Loads `model` with `config` in place of its config.pbtxt; resolves once it is ready. */
  load(model: string, config: Record<string, unknown>): Promise<void>;
  close(): void;
}

export function modelControl(url: string, protocol: PerfProtocol): ModelControl {
  return protocol === 'grpc' ? new GrpcModelControl(url) : new HttpModelControl(`http://${url.replace(/^http:\/\//, '')}`);
}

export class HttpModelControl implements ModelControl {
  constructor(private readonly baseUrl: string) {}

  async config(model: string): Promise<Record<string, unknown>> {
    const response = await this.call(`/v2/models/${encodeURIComponent(model)}/config`, undefined);
    return response as Record<string, unknown>;
  }

  async load(model: string, config: Record<string, unknown>): Promise<void> {
    await this.call(`/v2/repository/models/${encodeURIComponent(model)}/load`, { parameters: { config: JSON.stringify(config) } });
  }

  close(): void {}

  private async call(path: string, body: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (err) {
      throw new InferenceError('UNAVAILABLE', `cannot reach ${this.baseUrl}${path}: ${(err as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // A non-JSON error body is passed on as it is.
      }
      throw new InferenceError(response.status === 404 ? 'NOT_FOUND' : 'INVALID_ARG', `${path}: ${message}`);
    }
    return text ? JSON.parse(text) : {};
  }
}

/** The virtual fields the proto loader adds for each oneof of model_config.proto, naming the member that is set. */
const ONEOF_NAMES = new Set(['policy_choice', 'state_data', 'strategy_choice', 'input_data_type', 'metric_options', 'scheduling_choice']);

/**
 * A ModelConfig message as the proto loader reads it (every scalar present, defaults
 * included) → the JSON form: proto3 default scalars and empty lists dropped, since they
 * mean "unset"; messages kept even when empty, since their presence matters
 * (`dynamic_batching {}` turns batching on).
 */
export function withoutProtoDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutProtoDefaults);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (ONEOF_NAMES.has(key) || field === null || field === undefined || field === '' || field === 0 || field === false) continue;
    if (Array.isArray(field) && field.length === 0) continue;
    out[key] = withoutProtoDefaults(field);
  }
  return out;
}

export class GrpcModelControl implements ModelControl {
  private readonly control: GrpcControl;

  constructor(url: string) {
    this.control = new GrpcControl(parseEndpoint(url, 'grpc'));
  }

  async config(model: string): Promise<Record<string, unknown>> {
    const { config } = await this.control.call<{ config: object }>('ModelConfig', { name: model, version: '' }, `cannot read the configuration of model '${model}'`);
    return withoutProtoDefaults(config) as Record<string, unknown>;
  }

  async load(model: string, config: Record<string, unknown>): Promise<void> {
    await this.control.call('RepositoryModelLoad', { model_name: model, parameters: { config: { string_param: JSON.stringify(config) } } }, `cannot load model '${model}' with the candidate configuration`);
  }

  close(): void {
    this.control.close();
  }
}
