/**
 * The client of bench/grpc-latency, in its own process: one request at a time, over a
 * raw HTTP/1.1 keep-alive socket (prepared request bytes), over a node:http2 session
 * speaking gRPC (prepared length-prefixed message), or as prepared HTTP/2 frames over a
 * raw socket (`grpc-raw`: the gRPC request without Node's HTTP/2 client, whose own CPU
 * time per call is several times the raw HTTP/1.1 client's), so that the difference
 * between the protocols is the server's. Reads commands on stdin,
 * `<http|grpc|grpc-raw> <count>`, and answers each with one JSON line: the latencies in
 * µs and the client's own CPU time per request in µs.
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

/**
 * gRPC as prepared HTTP/2 frames over one socket: HEADERS (HPACK literals, no Huffman, no
 * dynamic table) and DATA with END_STREAM per call, the stream id patched in; the answer
 * is read frame by frame (SETTINGS and PING acknowledged) and is complete when the
 * trailers' HEADERS frame ends the stream. The trailers are not HPACK-decoded: a call
 * succeeded when it got its DATA (a failed call has a trailers-only answer, no DATA).
 */
const FRAME_DATA = 0;
const FRAME_HEADERS = 1;
const FRAME_RST_STREAM = 3;
const FRAME_SETTINGS = 4;
const FRAME_PING = 6;
const FRAME_GOAWAY = 7;
const FLAG_END_STREAM = 1;
const FLAG_ACK = 1;
const FLAG_END_HEADERS = 4;

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length >= 127) throw new Error('header too long for this encoder');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

const rawHeaderBlock = Buffer.concat([
  Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table 3 and 6)
  Buffer.from([0x04]), hpackString('/inference.GRPCInferenceService/ModelInfer'), // :path, literal, name index 4
  Buffer.from([0x01]), hpackString(`127.0.0.1:${grpcPort}`), // :authority, name index 1
  Buffer.from([0x0f, 0x10]), hpackString('application/grpc'), // content-type, name index 31
  Buffer.from([0x00]), hpackString('te'), hpackString('trailers'),
]);
/** One call's HEADERS and DATA frames; bytes 5..8 and 9 + headers + 5..8 take the stream id. */
const rawCall = Buffer.concat([frame(FRAME_HEADERS, FLAG_END_HEADERS, 0, rawHeaderBlock), frame(FRAME_DATA, FLAG_END_STREAM, 0, grpcFrame)]);
const rawDataFrameAt = 9 + rawHeaderBlock.length;

const rawSocket = connect({ host: '127.0.0.1', port: Number(grpcPort), noDelay: true });
{
  const windowSize = Buffer.alloc(6);
  windowSize.writeUInt16BE(4, 0); // SETTINGS_INITIAL_WINDOW_SIZE
  windowSize.writeUInt32BE(0x7fffffff, 2);
  const connectionWindow = Buffer.alloc(4);
  connectionWindow.writeUInt32BE(0x7fffffff - 65535, 0);
  rawSocket.write(
    Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(FRAME_SETTINGS, 0, 0, windowSize), frame(8, 0, 0, connectionWindow)]),
  );
}
let rawStreamId = -1;
let rawGotData = false;
let pendingRaw: { resolve: () => void; reject: (err: Error) => void } | undefined;
let rawReceived: Buffer = Buffer.alloc(0);
rawSocket.on('data', (chunk: Buffer) => {
  rawReceived = rawReceived.length === 0 ? chunk : Buffer.concat([rawReceived, chunk]);
  while (rawReceived.length >= 9) {
    const length = rawReceived.readUIntBE(0, 3);
    if (rawReceived.length < 9 + length) break;
    const type = rawReceived[3];
    const flags = rawReceived[4];
    const streamId = rawReceived.readUInt32BE(5) & 0x7fffffff;
    const payload = rawReceived.subarray(9, 9 + length);
    rawReceived = rawReceived.subarray(9 + length);
    if (type === FRAME_SETTINGS && !(flags & FLAG_ACK)) rawSocket.write(frame(FRAME_SETTINGS, FLAG_ACK, 0, Buffer.alloc(0)));
    else if (type === FRAME_PING && !(flags & FLAG_ACK)) rawSocket.write(frame(FRAME_PING, FLAG_ACK, 0, Buffer.from(payload)));
    else if (type === FRAME_GOAWAY) pendingRaw?.reject(new Error('the server sent GOAWAY'));
    else if (streamId === rawStreamId && pendingRaw) {
      if (type === FRAME_DATA && length > 5) rawGotData = true;
      else if (type === FRAME_RST_STREAM) pendingRaw.reject(new Error('the server reset the stream'));
      if ((type === FRAME_HEADERS || type === FRAME_DATA) && flags & FLAG_END_STREAM) {
        const done = pendingRaw;
        pendingRaw = undefined;
        if (rawGotData) done.resolve();
        else done.reject(new Error('gRPC request failed: an answer without a message'));
      }
    }
  }
});

function grpcRawOnce(): Promise<void> {
  return new Promise((resolve, reject) => {
    rawStreamId += 2;
    rawGotData = false;
    pendingRaw = { resolve, reject };
    rawCall.writeUInt32BE(rawStreamId, 5);
    rawCall.writeUInt32BE(rawStreamId, rawDataFrameAt + 5);
    rawSocket.write(rawCall);
  });
}

async function run(protocol: string, count: number): Promise<number[]> {
  const once = protocol === 'grpc' ? grpcOnce : protocol === 'grpc-raw' ? grpcRawOnce : httpOnce;
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
rawSocket.destroy();
session.close();
// Keep-alive sockets and the HTTP/2 session must not keep the process (and the parent waiting for it) alive.
process.exit(0);
