import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  generatorCpuPercent: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  method?: 'GET' | 'POST';
  /** A Buffer for binary bodies (binary tensor data). */
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

const CHILD = fileURLToPath(new URL('./autocannon-child.ts', import.meta.url));

/** One autocannon run in a child process. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const args = [
    '--import',
    'tsx',
    CHILD,
    options.url,
    String(options.connections),
    String(options.seconds),
    options.method ?? 'POST',
    // argv carries text only: a binary body travels base64-encoded.
    Buffer.isBuffer(options.body) ? `base64:${options.body.toString('base64')}` : (options.body ?? ''),
    options.contentType ?? 'application/json',
    JSON.stringify(options.headers ?? {}),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

export function formatRow(cells: Array<string | number>, widths: number[]): string {
  return cells.map((cell, i) => String(cell).padStart(widths[i])).join('  ');
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
