import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_REPOSITORY } from '../helpers/test-server.js';

// The build that test/global-setup.ts has just made: the binary users run.
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function nereid(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [MAIN, ...args], { stdio: 'pipe' });
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

/** Resolves with the HTTP port once the server logs that it listens. */
function listeningPort(child: ChildProcessWithoutNullStreams): Promise<number> {
  const lines = createInterface({ input: child.stdout });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line);
      if (entry.msg === 'HTTP service started') resolve(entry.port);
    });
    child.on('exit', (code) => reject(new Error(`nereid exited with ${code} before listening: ${stderr}`)));
  });
}

describe('nereid process', () => {
  it('exits 2 with the reason on an unknown flag', async () => {
    const { code, stderr } = await exitOf(nereid(['--model-repository', EXAMPLE_REPOSITORY, '--http-prot', '1']));
    expect(code).toBe(2);
    expect(stderr).toContain('nereid: unknown flag --http-prot (see --help)');
  });

  it('on SIGTERM turns readiness off at once and keeps answering until traffic stops, then exits 0', async () => {
    const child = nereid(['--model-repository', EXAMPLE_REPOSITORY, '--model-control-mode=explicit', '--load-model=simple', '--http-port', '0', '--http-address', '127.0.0.1', '--allow-grpc=false', '--allow-metrics=false']);
    const exited = exitOf(child);
    const base = `http://127.0.0.1:${await listeningPort(child)}`;
    const body = JSON.stringify({
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(3) })),
    });
    let running = true;
    const statuses: number[] = [];
    const client = async () => {
      while (running) statuses.push((await fetch(`${base}/v2/models/simple/infer`, { method: 'POST', body })).status);
    };
    const moreAnswers = async (count: number) => {
      const target = statuses.length + count;
      while (statuses.length < target) await new Promise((r) => setTimeout(r, 5));
    };
    const clients = Array.from({ length: 4 }, client);
    await moreAnswers(10);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(400);
    // Readiness is off, so these were all sent after the SIGTERM.
    await moreAnswers(10);
    running = false;
    await Promise.all(clients);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect((await exited).code).toBe(0);
  });

  it('on SIGTERM stops accepting, answers the requests in flight and exits 0', async () => {
    const child = nereid(['--model-repository', EXAMPLE_REPOSITORY, '--model-control-mode=explicit', '--load-model=mlp', '--http-port', '0', '--http-address', '127.0.0.1', '--allow-grpc=false', '--allow-metrics=false']);
    const exited = exitOf(child);
    const port = await listeningPort(child);
    const rows = 128;
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [rows, 256], data: new Array(rows * 256).fill(0.5) }] });
    const inflight = Array.from({ length: 12 }, () =>
      fetch(`http://127.0.0.1:${port}/v2/models/mlp/infer`, { method: 'POST', body }).then((res) => res.status),
    );
    await inflight[0];
    child.kill('SIGTERM');
    expect(await Promise.all(inflight)).toEqual(new Array(12).fill(200));
    expect((await exited).code).toBe(0);
  });
});
