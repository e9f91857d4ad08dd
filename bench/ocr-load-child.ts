/**
 * The load of bench/ocr, in a process of its own: `connections` loops, each reading the
 * images in turn (starting at a different one), for `seconds`, either through the `ocr`
 * ensemble of a Nereid server (binary tensor data over HTTP) or with @gutenye/ocr-node
 * in this process. Prints one JSON line: images/s, p50/p99 latency, errors, CPU time,
 * and every latency (ms), so that runs in several slices can be added up.
 * The server's load goes through node:http with one kept-alive socket per loop rather
 * than fetch(), whose per-request overhead is larger: the load generator shares the
 * cores with the server it measures.
 *
 *   tsx bench/ocr-load-child.ts server|library <baseUrl|-> <connections> <seconds> <image>...
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import Ocr from '@gutenye/ocr-node';

const [mode, baseUrl, connectionsText, secondsText, ...images] = process.argv.slice(2);
const connections = Number(connectionsText);
const seconds = Number(secondsText);
const files = images.map((path) => readFileSync(path));

function imageRequest(file: Buffer): { body: Buffer; headerLength: number } {
  const element = Buffer.alloc(4 + file.length);
  element.writeUInt32LE(file.length, 0);
  file.copy(element, 4);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: element.length } }],
      outputs: [{ name: 'text', parameters: { binary_data: false } }],
    }),
  );
  return { body: Buffer.concat([header, element]), headerLength: header.length };
}

let readImage: (k: number) => Promise<void>;
if (mode === 'server') {
  const requests = files.map(imageRequest);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL('/v2/models/ocr/infer', baseUrl);
  readImage = (k) =>
    new Promise((resolve, reject) => {
      const { body, headerLength } = requests[k];
      const req = request(url, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length, 'inference-header-content-length': headerLength },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
} else {
  const ocr = await Ocr.create();
  readImage = async (k) => {
    await ocr.detect(images[k]);
  };
  await readImage(0);
}

const latencies: number[] = [];
let errors = 0;
const cpuBefore = process.cpuUsage();
const start = performance.now();
const end = start + seconds * 1000;
await Promise.all(
  Array.from({ length: connections }, async (_, loop) => {
    for (let n = loop; performance.now() < end; n++) {
      const sent = performance.now();
      try {
        await readImage(n % files.length);
        latencies.push(performance.now() - sent);
      } catch (err) {
        if (errors++ === 0) console.error(String(err));
      }
    }
  }),
);
const elapsed = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuBefore);
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
console.log(
  JSON.stringify({
    images: latencies.length,
    imagesPerSecond: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
    cpuMs: (cpu.user + cpu.system) / 1000,
    seconds: elapsed,
    latencies: latencies.map((ms) => Math.round(ms * 10) / 10),
  }),
);
process.exit(0);
