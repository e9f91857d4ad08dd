/**
 * `nereid perf` as a command: the reports it writes (CSV in perf_analyzer's columns,
 * JSON, HTML) agree with each other, and its exit status says whether the run was
 * clean.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { perf } from '../../src/cli/perf-command.js';
import { addModel, EXAMPLE_REPOSITORY, scratchRepository, startTestServer, type TestServer } from '../helpers/test-server.js';

// The build that test/global-setup.ts has just made: the binary users run.
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

let server: TestServer;
let scratch: ReturnType<typeof scratchRepository>;
let address: string;
const out = mkdtempSync(join(tmpdir(), 'nereid-perf-out-'));

beforeAll(async () => {
  scratch = scratchRepository();
  for (const name of ['add_sub', 'simple']) {
    addModel(scratch.root, name, { from: name, config: readFileSync(join(EXAMPLE_REPOSITORY, name, 'config.pbtxt'), 'utf8') });
  }
  server = await startTestServer({ modelRepositories: [scratch.root] });
  address = server.url.replace('http://', '');
});

afterAll(async () => {
  await server?.server.stop();
  scratch?.cleanup();
  rmSync(out, { recursive: true, force: true });
});

afterEach(() => vi.restoreAllMocks());

function nereid(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Runs the command in this process, capturing what it writes. */
async function perfHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const code = await perf(args);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

function parseCsv(text: string): Array<Record<string, string>> {
  const [header, ...rows] = text.trim().split('\n').map((line) => line.split(','));
  return rows.map((row) => Object.fromEntries(header.map((name, i) => [name, row[i]])));
}

describe('nereid perf command', () => {
  it('writes CSV, JSON and HTML reports that agree, and exits 0', async () => {
    const csv = join(out, 'perf.csv');
    const json = join(out, 'perf.json');
    const html = join(out, 'perf.html');
    const { code, stdout, stderr } = await nereid(['perf', '-m', 'add_sub', '-u', address, '--concurrency-range', '1:3:2', '-p', '300', '-s', '10000', '-f', csv, '--verbose-csv', '--json', json, '--report', html]);
    expect(stderr).not.toContain('nereid perf:');
    expect(code).toBe(0);
    expect(stdout).toContain('*** Measurement Settings ***');
    expect(stdout).toContain('Request concurrency: 3');
    expect(stdout).toContain('Inferences/Second vs. Client Average Batch Latency');

    const header = readFileSync(csv, 'utf8').split('\n')[0];
    // Nereid offers the statistics extension, so the server-side split is there, as perf_analyzer writes it.
    expect(header).toBe(
      'Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency,Avg latency,request/response,response wait',
    );
    const rows = parseCsv(readFileSync(csv, 'utf8'));
    const result = JSON.parse(readFileSync(json, 'utf8'));
    expect(result).toMatchObject({ tool: 'nereid perf', model: 'add_sub', mode: 'concurrency', errorCount: 0, serverStatistics: { available: true } });
    expect(result.levels).toHaveLength(2);
    expect(rows).toHaveLength(2);
    // perf_analyzer sorts its rows by throughput.
    expect(Number(rows[0]['Inferences/Second'])).toBeLessThanOrEqual(Number(rows[1]['Inferences/Second']));
    for (const row of rows) {
      const level = result.levels.find((l: { concurrency: number }) => l.concurrency === Number(row.Concurrency));
      expect(Number(row['Inferences/Second'])).toBeCloseTo(level.throughput, 1);
      for (const p of [50, 90, 95, 99]) expect(Number(row[`p${p} latency`])).toBe(Math.floor(level.latencyUs.percentiles[String(p)]));
      expect(Number(row['Avg latency'])).toBe(Math.floor(level.latencyUs.avg));
      expect(Number(row['Client Send'])).toBe(Math.floor(level.clientSendUs));
      expect(Number(row['Server Compute Infer'])).toBeGreaterThan(0);
    }

    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/);
    expect(page).toContain('<svg');
    expect(page.match(/<polyline /g)).toHaveLength(4);
    expect(page).not.toMatch(/<script|<link|src=/);
  });

  it('says that requests failed and exits 1', async () => {
    const json = join(out, 'failed.json');
    const { code, stdout, stderr } = await perfHere(['-m', 'simple', '-u', address, '-p', '200', '--input-data', outOfRangeData(), '--input-tensor-format', 'json', '--json', json]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/Failed requests: \d+/);
    expect(stdout).toMatch(/ERROR: \d+ requests failed/);
    expect(stderr).toBe('');
    expect(JSON.parse(readFileSync(json, 'utf8')).errorCount).toBeGreaterThan(0);
  });

  it('exits 1 with the reason for an unknown model or an unreachable server, 2 for a bad flag', async () => {
    const unknown = await perfHere(['-m', 'nope', '-u', address]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`nereid perf: cannot profile model 'nope' (GET ${server.url}/v2/models/nope): HTTP 400: Request for unknown model: 'nope' is not found\n`);
    const port = await closedPort();
    const unreachable = await perfHere(['-m', 'add_sub', '-u', `127.0.0.1:${port}`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toBe(`nereid perf: cannot reach the server at http://127.0.0.1:${port} (GET /v2: connect ECONNREFUSED 127.0.0.1:${port})\n`);
    const bad = await nereid(['perf', '-m', 'add_sub', '--concurency-range', '2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('nereid: unknown flag --concurency-range (see --help)');
    expect(bad.stderr).toContain('Usage: nereid perf -m <model> [flags]');
  });
});

/** Data the server refuses request after request, as JSON: 3e9 is a JSON number but no INT32. */
function outOfRangeData(): string {
  const path = join(out, 'data.json');
  const values = Array.from({ length: 16 }, (_, i) => i);
  writeFileSync(path, JSON.stringify({ data: [{ INPUT0: values, INPUT1: [...values.slice(1), 3e9] }] }));
  return path;
}

/** A port nothing listens on: bound once, then released. */
function closedPort(): Promise<number> {
  const probe = createServer();
  return new Promise((resolve) =>
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    }),
  );
}
