/**
 * A `nereid serve` child process on 127.0.0.1 with ephemeral ports, for the staging
 * server and the local deployments of a pipeline. The pipeline speaks to it over the
 * protocol only; the ports come from the server's start-up log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { InferenceError } from '../core/index.js';

/** dist/cli/main.js, from both src/pipeline/ and dist/pipeline/. */
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;

export interface ServerEndpoints {
  /** `127.0.0.1:<port>` of the HTTP endpoint. */
  http: string;
  /** `127.0.0.1:<port>` of the gRPC endpoint. */
  grpc: string;
  /** `http://127.0.0.1:<port>/metrics`. */
  metricsUrl: string;
}

export interface ServerHandle extends ServerEndpoints {
  role: string;
  repository: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  role: string;
  repository: string;
  models: string[];
  /** explicit: the tuner reloads models with config overrides. */
  controlMode: 'explicit' | 'poll' | 'none';
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerHandle> {
  if (!existsSync(MAIN)) throw new InferenceError('UNAVAILABLE', `cannot start a server: ${MAIN} is missing (run npm run build)`);
  const args = [MAIN, 'serve', '--model-repository', options.repository, '--model-control-mode', options.controlMode];
  for (const model of options.models) args.push('--load-model', model);
  args.push('--http-address', '127.0.0.1', '--http-port', '0', '--grpc-address', '127.0.0.1', '--grpc-port', '0', '--metrics-port', '0');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const recent: string[] = [];
  const remember = (line: string) => {
    recent.push(line);
    if (recent.length > 20) recent.shift();
  };
  const ports: Record<string, number> = {};
  const endpoints = await new Promise<ServerEndpoints>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopChild(child);
      reject(new InferenceError('UNAVAILABLE', `the ${options.role} server did not start within ${START_TIMEOUT_MS / 1000} s; its last lines:\n${recent.join('\n')}`));
    }, START_TIMEOUT_MS);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      // The server's last error line sums up why it stopped (every model that failed, and why).
      const errors = recent
        .map((line) => {
          try {
            const entry = JSON.parse(line) as { level?: number; msg?: string; reason?: string };
            return (entry.level ?? 0) >= 50 ? [entry.msg, entry.reason].filter(Boolean).join(': ') : undefined;
          } catch {
            return line;
          }
        })
        .filter((m): m is string => !!m);
      reject(new InferenceError('UNAVAILABLE', `the ${options.role} server (${options.repository}) exited with code ${code} while starting: ${errors.at(-1) ?? recent.join('\n')}`));
    };
    child.once('exit', onExit);
    createInterface({ input: child.stderr! }).on('line', remember);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      let entry: { msg?: string; port?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      const service = /^(HTTP|GRPC|metrics) service started$/.exec(entry.msg ?? '')?.[1];
      if (service && typeof entry.port === 'number') ports[service] = entry.port;
      if (ports.HTTP && ports.GRPC && ports.metrics) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve({ http: `127.0.0.1:${ports.HTTP}`, grpc: `127.0.0.1:${ports.GRPC}`, metricsUrl: `http://127.0.0.1:${ports.metrics}/metrics` });
      }
    });
  });
  // Log lines keep flowing; drain them so that the pipe never fills and blocks the server.
  child.stdout!.resume();
  return { ...endpoints, role: options.role, repository: options.repository, pid: child.pid, stop: () => stopChild(child) };
}

/** HOST:PORT of the handle's endpoint for `protocol`. */
export function endpointOf(server: ServerHandle, protocol: 'http' | 'grpc'): string {
  const url = protocol === 'grpc' ? server.grpc : server.http;
  if (!url) throw new InferenceError('INVALID_ARG', `the ${server.role} server has no ${protocol} endpoint known to the pipeline (server.url names only the HTTP one); use protocol http`);
  return url;
}
