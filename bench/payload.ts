/**
 * bench/payload: the same inferences sent three ways in one run — as JSON, as binary
 * tensor data, and through system shared memory — on a large input (an FP32 image of
 * 1×3×224×224 = 150 528 values, 588 KiB, through identity_fp32, whose answer is as large)
 * and on a small one (the 256 FP32 values of mlp). Prints requests/s, p50/p99 and the
 * ratio of each way to JSON.
 *
 *   npx tsx bench/payload.ts [--seconds 5] [--rounds 3] [--connections 4]
 *
 * The three ways take turns, round after round, and each figure is the median round:
 * on a shared machine the background load changes within a minute, and alternating
 * keeps the ratios comparing figures taken close together.
 * The load generator runs in its own process (bench/payload-load-child.ts). Requests and
 * shared-memory inputs are prepared once; answers are read to their end but not parsed,
 * and a shared-memory client does not copy its output out of the region, as a client
 * that hands the region to its next stage would not.
 */
import { spawn } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../src/server/index.js';
import { formatRow } from './load-generator.js';
import type { PayloadLoadSpec } from './payload-load-child.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) || fallback : fallback;
};
const seconds = option('seconds', 5);
const rounds = option('rounds', 3);
const connections = option('connections', 4);
const WARMUP_SECONDS = 1;

const REPOSITORY = fileURLToPath(new URL('../model_repository', import.meta.url));
const CHILD = fileURLToPath(new URL('./payload-load-child.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'nereid-payload-'));

interface Payload {
  label: string;
  model: string;
  shape: number[];
  values: Float32Array;
  outputBytes: number;
}

const IMAGE_VALUES = 3 * 224 * 224;
const PAYLOADS: Payload[] = [
  {
    label: 'image 1x3x224x224',
    model: 'identity_fp32',
    // identity_fp32 takes [batch, n]: the image's 150 528 values as one row.
    shape: [1, IMAGE_VALUES],
    values: Float32Array.from({ length: IMAGE_VALUES }, (_, i) => (((i * 7919) % 256) / 255 - 0.485) / 0.229),
    outputBytes: IMAGE_VALUES * 4,
  },
  {
    label: 'mlp 1x256',
    model: 'mlp',
    shape: [1, 256],
    values: Float32Array.from({ length: 256 }, (_, i) => Math.sin(i) / 3),
    outputBytes: 16 * 4,
  },
];

type Mode = 'JSON' | 'binary' | 'shared memory';
const MODES: Mode[] = ['JSON', 'binary', 'shared memory'];

const server = await startServer({
  modelRepositories: [REPOSITORY],
  modelControlMode: 'explicit',
  loadModels: ['identity_fp32', 'mlp'],
  httpAddress: '127.0.0.1',
  httpPort: 0,
  allowGrpc: false,
  allowClientShm: true,
});
const base = `http://127.0.0.1:${server.httpPort}`;
const shmKeys: string[] = [];

function file(name: string, content: string | Uint8Array): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

/** One POSIX shared-memory object per client, holding its input and, after it, its output. */
async function sharedMemoryBodies(payload: Payload, tag: string): Promise<PayloadLoadSpec['bodies']> {
  const inputBytes = payload.values.byteLength;
  const bodies: PayloadLoadSpec['bodies'] = [];
  for (let k = 0; k < connections; k++) {
    const key = `/nereid-bench-${process.pid}-${tag}-${k}`;
    shmKeys.push(key);
    const fd = openSync(`/dev/shm${key}`, 'w+', 0o600);
    ftruncateSync(fd, inputBytes + payload.outputBytes);
    writeSync(fd, new Uint8Array(payload.values.buffer), 0, inputBytes, 0);
    closeSync(fd);
    const region = `${tag}-${k}`;
    const registered = await fetch(`${base}/v2/systemsharedmemory/region/${region}/register`, {
      method: 'POST',
      body: JSON.stringify({ key, offset: 0, byte_size: inputBytes + payload.outputBytes }),
    });
    if (registered.status !== 200) throw new Error(`cannot register ${region}: ${await registered.text()}`);
    const body = JSON.stringify({
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: payload.shape, parameters: { shared_memory_region: region, shared_memory_byte_size: inputBytes } }],
      outputs: [{ name: 'OUTPUT0', parameters: { shared_memory_region: region, shared_memory_offset: inputBytes, shared_memory_byte_size: payload.outputBytes } }],
    });
    bodies.push({ file: file(`${region}.json`, body), headers: { 'content-type': 'application/json' } });
  }
  return bodies;
}

async function bodiesFor(payload: Payload, mode: Mode, tag: string): Promise<PayloadLoadSpec['bodies']> {
  const input = { name: 'INPUT0', datatype: 'FP32', shape: payload.shape };
  if (mode === 'JSON') {
    const body = JSON.stringify({ inputs: [{ ...input, data: Array.from(payload.values) }] });
    return [{ file: file(`${tag}.json`, body), headers: { 'content-type': 'application/json' } }];
  }
  if (mode === 'binary') {
    const header = Buffer.from(JSON.stringify({ inputs: [{ ...input, parameters: { binary_data_size: payload.values.byteLength } }], parameters: { binary_data_output: true } }));
    return [
      {
        file: file(`${tag}.bin`, Buffer.concat([header, Buffer.from(payload.values.buffer)])),
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      },
    ];
  }
  return sharedMemoryBodies(payload, tag);
}

/** One request of each body, answered 200, before anything is measured. */
async function check(bodies: PayloadLoadSpec['bodies'], url: string): Promise<void> {
  for (const { file: path, headers } of bodies) {
    const res = await fetch(url, { method: 'POST', headers, body: readFileSync(path) });
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
}

interface Result {
  requestsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
  generatorCpuPercent: number;
}

function load(spec: PayloadLoadSpec, tag: string): Promise<Result> {
  const specFile = file(`${tag}.spec.json`, JSON.stringify(spec));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, specFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`load generator exited with ${code}`))));
  });
}

/** No answer completed in the window: the child reports null. */
const ms = (value: number | null) => (value === null ? '-' : value.toFixed(2));
const widths = [18, 14, 9, 9, 9, 9, 9];
console.log(`payload: ${rounds} rounds of ${seconds}s per point (after ${WARMUP_SECONDS}s of warm-up), ${connections} connections, HTTP/1.1 keep-alive; medians`);
console.log(formatRow(['payload', 'mode', 'req/s', 'p50 ms', 'p99 ms', 'x JSON', 'gen CPU%'], widths));
const medians = new Map<string, Result>();
try {
  for (const [p, payload] of PAYLOADS.entries()) {
    const url = `${base}/v2/models/${payload.model}/infer`;
    const specs = new Map<Mode, PayloadLoadSpec>();
    for (const [m, mode] of MODES.entries()) {
      const bodies = await bodiesFor(payload, mode, `p${p}m${m}`);
      await check(bodies, url);
      specs.set(mode, { url, connections, seconds, warmupSeconds: WARMUP_SECONDS, bodies });
    }
    const results = new Map<Mode, Result[]>(MODES.map((mode) => [mode, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [m, mode] of MODES.entries()) results.get(mode)!.push(await load(specs.get(mode)!, `p${p}m${m}r${round}`));
    }
    for (const [m, mode] of MODES.entries()) {
      const sorted = [...results.get(mode)!].sort((x, y) => x.requestsPerSecond - y.requestsPerSecond);
      const median = sorted[Math.floor(sorted.length / 2)];
      medians.set(`${p}:${mode}`, median);
      const json = medians.get(`${p}:JSON`)!;
      const errors = sorted.reduce((n, r) => n + r.errors, 0);
      if (errors > 0) console.log(`  (${errors} requests failed)`);
      console.log(
        formatRow(
          [
            m === 0 ? payload.label : '',
            mode,
            median.requestsPerSecond.toFixed(1),
            ms(median.p50Ms),
            ms(median.p99Ms),
            (median.requestsPerSecond / json.requestsPerSecond).toFixed(2),
            median.generatorCpuPercent.toFixed(0),
          ],
          widths,
        ),
      );
    }
    console.log(`  rounds (req/s): ${MODES.map((mode) => `${mode} ${results.get(mode)!.map((r) => r.requestsPerSecond.toFixed(0)).join('/')}`).join('; ')}`);
  }
  const image = (mode: Mode) => medians.get(`0:${mode}`)!.requestsPerSecond;
  console.log(`image: binary / JSON = ${(image('binary') / image('JSON')).toFixed(2)} (target >= 5); shared memory / binary = ${(image('shared memory') / image('binary')).toFixed(2)} (target >= 1.5)`);
} finally {
  await fetch(`${base}/v2/systemsharedmemory/unregister`, { method: 'POST', body: '{}' });
  await server.stop();
  for (const key of shmKeys) rmSync(`/dev/shm${key}`, { force: true });
  rmSync(work, { recursive: true, force: true });
}
