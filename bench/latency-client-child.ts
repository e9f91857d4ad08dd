/**
 * The client of bench/grpc-latency, in its own process: one request at a time, over a
 * raw HTTP/1.1 keep-alive socket (prepared request bytes) or a node:http2 session
 * speaking gRPC (prepared length-prefixed message), clients as thin as perf_analyzer's
 * so that the difference between the two is the server's. Reads commands on stdin,
 * `<http|grpc> <count>`, and answers each with one JSON line: the latencies in µs and the
 * client's own CPU time per request in µs.
 *   latency-client-child.ts <http port> <grpc port> <http request base64> <grpc message base64>
 */
import { connect as http2Connect, constants } from 'node:http2';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const [httpPort, grpcPort, httpBase64, grpcBase64] = process.argv.slice(2);
const httpRequest = Buffer.from(httpBase64, 'base64');
const grpcMessage = Buffer.from(grpcBase64, 'base64');
const grpcFrame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), grpcMessage]);
grpcFrame.writeUInt32BE(grpcMessage.length, 1);

const socket = connect({ host: '127.0.0.1', port: Number(httpPort), noDelay: true });
let pendingHttp: (() => void) | undefined;
let received: Buffer = Buffer.alloc(0);
socket.on('data', (chunk: Buffer) => {
  received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
  const headerEnd = received.indexOf('\r\n\r\n');
  if (headerEnd < 0) return;
  const head = received.subarray(0, headerEnd).toString('latin1');
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
  if (received.length < headerEnd + 4 + length) return;
  if (!head.startsWith('HTTP/1.1 200')) throw new Error(`HTTP request failed: ${received.toString()}`);
  received = received.subarray(headerEnd + 4 + length);
  const done = pendingHttp!;
  pendingHttp = undefined;
  done();
});

function httpOnce(): Promise<void> {
  return new Promise((resolve) => {
    pendingHttp = resolve;
    socket.write(httpRequest);
  });
}

const session = http2Connect(`http://127.0.0.1:${grpcPort}`);
const GRPC_HEADERS = {
  [constants.HTTP2_HEADER_METHOD]: 'POST',
  [constants.HTTP2_HEADER_PATH]: '/inference.GRPCInferenceService/ModelInfer',
  [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
  te: 'trailers',
};

function grpcOnce(): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request(GRPC_HEADERS, { endStream: false });
    stream.on('trailers', (trailers) => {
      if (trailers['grpc-status'] !== '0') reject(new Error(`gRPC request failed: ${trailers['grpc-status']} ${trailers['grpc-message']}`));
    });
    stream.on('data', () => {});
    stream.on('end', resolve);
    stream.on('error', reject);
    stream.end(grpcFrame);
  });
}

async function run(protocol: string, count: number): Promise<number[]> {
  const once = protocol === 'grpc' ? grpcOnce : httpOnce;
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await once();
    latencies.push((performance.now() - start) * 1000);
  }
  return latencies;
}

for await (const line of createInterface({ input: process.stdin })) {
  const [protocol, count] = line.trim().split(' ');
  if (protocol === 'quit') break;
  const before = process.cpuUsage();
  const latencies = await run(protocol, Number(count));
  const cpu = process.cpuUsage(before);
  process.stdout.write(`${JSON.stringify({ latencies, clientCpuUs: (cpu.user + cpu.system) / Number(count) })}\n`);
}
socket.destroy();
session.close();
// Keep-alive sockets and the HTTP/2 session must not keep the process (and the parent waiting for it) alive.
process.exit(0);
