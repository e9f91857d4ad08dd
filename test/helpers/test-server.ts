import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/index.js';

export const EXAMPLE_REPOSITORY = join(dirname(fileURLToPath(import.meta.url)), '../../model_repository');

export interface TestServer {
  server: RunningServer;
  url: string;
  /** `127.0.0.1:<port>` of the gRPC endpoint, for a grpc-js client. */
  grpcTarget: string;
  /** The Prometheus endpoint, `http://127.0.0.1:<port>/metrics`. */
  metricsUrl: string;
}

/** A real server on 127.0.0.1 with ephemeral HTTP, gRPC and metrics ports. */
export async function startTestServer(options: Partial<ServerOptions> & Pick<ServerOptions, 'modelRepositories'>): Promise<TestServer> {
  const server = await startServer({
    httpAddress: '127.0.0.1',
    httpPort: 0,
    grpcAddress: '127.0.0.1',
    grpcPort: 0,
    metricsAddress: '127.0.0.1',
    metricsPort: 0,
    exitOnError: false,
    ...options,
  });
  return {
    server,
    url: `http://127.0.0.1:${server.httpPort}`,
    grpcTarget: `127.0.0.1:${server.grpcPort}`,
    metricsUrl: `http://127.0.0.1:${server.metricsPort}/metrics`,
  };
}

/**
 * The example repository with only `models` loaded (explicit model control): every
 * example model is a worker thread of its own, and starting all of them costs seconds.
 */
export function exampleModels(...models: string[]): Pick<ServerOptions, 'modelRepositories' | 'modelControlMode' | 'loadModels'> {
  return { modelRepositories: [EXAMPLE_REPOSITORY], modelControlMode: 'explicit', loadModels: models };
}

/** The example models the frontend tests were written against. */
export const CORE_EXAMPLE_MODELS = ['simple', 'add_sub', 'identity_fp32', 'identity_bytes', 'mlp'];

/** A scratch model repository, removed by the returned cleanup function. */
export function scratchRepository(): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'nereid-repo-'));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Copies one example model's version file into `root/<name>/<version>/` with the given config text (none when undefined). */
export function addModel(root: string, name: string, options: { from: string; config?: string; versions?: number[]; fileName?: string }): void {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const version of options.versions ?? [1]) {
    mkdirSync(join(dir, String(version)), { recursive: true });
    cpSync(join(EXAMPLE_REPOSITORY, options.from, '1', 'model.onnx'), join(dir, String(version), options.fileName ?? 'model.onnx'));
  }
  if (options.config !== undefined) writeFileSync(join(dir, 'config.pbtxt'), options.config);
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

export async function getJson(url: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
