/**
 * The load generator of bench/payload.ts, in its own process so that it never shares
 * an event loop with the server: `connections` closed-loop clients POST prepared
 * bodies over keep-alive connections (node:http) and read every answer to its end,
 * for a warm-up and then `seconds`. Prints one JSON line: requests/s, p50/p99 ms,
 * errors, and the generator's own CPU use.
 *
 *   node --import tsx bench/payload-load-child.ts <spec.json>
 *
 * The spec names the URL and, per client, a body file and the headers to send with it
 * (client k uses bodies[k % bodies.length]), so that shared-memory clients can each
 * use a region of their own.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

export interface PayloadLoadSpec {
  url: string;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  bodies: { file: string; headers: Record<string, string> }[];
}

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as PayloadLoadSpec;
const bodies = spec.bodies.map(({ file, headers }) => {
  const body = readFileSync(file);
  return { body, headers: { ...headers, 'content-length': String(body.length) } };
});
const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
const url = new URL(spec.url);

function post(k: number): Promise<number> {
  const { body, headers } = bodies[k % bodies.length];
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

let measuring = false;
let stop = false;
let errors = 0;
const latencies: number[] = [];

async function client(k: number): Promise<void> {
  while (!stop) {
    const start = performance.now();
    const status = await post(k).catch(() => 0);
    if (!measuring) continue;
    if (status === 200) latencies.push(performance.now() - start);
    else errors++;
  }
}

const clients = Array.from({ length: spec.connections }, (_, k) => client(k));
await new Promise((resolve) => setTimeout(resolve, spec.warmupSeconds * 1000));
measuring = true;
const cpuBefore = process.cpuUsage();
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, spec.seconds * 1000));
measuring = false;
const elapsedS = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
stop = true;
await Promise.all(clients);
agent.destroy();

latencies.sort((a, b) => a - b);
const percentile = (p: number) => (latencies.length === 0 ? null : latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]);
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: latencies.length / elapsedS,
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    errors,
    generatorCpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsedS) * 100,
  })}\n`,
);
