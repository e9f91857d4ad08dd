/**
 * The repository API calls the tuner makes over HTTP: read a model's configuration and
 * reload it with an override (the server must run with --model-control-mode explicit).
 */
import { InferenceError } from '../core/index.js';

export class ModelControl {
  constructor(private readonly baseUrl: string) {}

  async config(model: string): Promise<Record<string, unknown>> {
    const response = await this.call(`/v2/models/${encodeURIComponent(model)}/config`, undefined);
    return response as Record<string, unknown>;
  }

  /** Loads `model` with `config` in place of its config.pbtxt; resolves once it is ready. */
  async load(model: string, config: Record<string, unknown>): Promise<void> {
    await this.call(`/v2/repository/models/${encodeURIComponent(model)}/load`, { parameters: { config: JSON.stringify(config) } });
  }

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
