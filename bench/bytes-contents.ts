/**
 * Large BYTES tensors over gRPC (issue 14): N five-byte strings sent to simple_identity
 *   - as `bytes_contents` (one protobuf field per element: Triton's string clients' form),
 *   - as one raw_input_contents entry (the same elements, length-prefixed),
 * and, the floor, the bytes_contents request sent to a bare grpc-js server in the same
 * process that answers every request with a message of the size Nereid answers
 * (raw_output_contents), doing none of Nereid's work. Round trips with a real client,
 * the request written by hand so that building it costs nothing; every answer is checked
 * byte for byte. Rounds interleave the three; prints the median seconds and the ratios.
 *
 *   npx tsx bench/bytes-contents.ts                      (1 048 576 and 10 485 760 elements)
 *   ELEMENTS=10485760 ROUNDS=3 npx tsx bench/bytes-contents.ts
 */
import * as grpc from '@grpc/grpc-js';
import { startServer } from '../src/server/index.js';
import { EXAMPLE_REPOSITORY } from '../test/helpers/test-server.js';

const SIZES = (process.env.ELEMENTS ?? '1048576,10485760').split(',').map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const ELEMENT = Buffer.from('hello');

/** Appends protobuf wire bytes to one preallocated buffer. */
class Wire {
  readonly bytes: Buffer;
  length = 0;
  constructor(capacity: number) {
    this.bytes = Buffer.allocUnsafe(capacity);
  }
  varint(value: number): this {
    while (value > 0x7f) {
      this.bytes[this.length++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.length++] = value;
    return this;
  }
  field(number: number, bytes: Uint8Array): this {
    this.varint((number << 3) | 2).varint(bytes.byteLength);
    this.bytes.set(bytes, this.length);
    this.length += bytes.byteLength;
    return this;
  }
  /** A length-delimited field whose body `write` appends; its length is counted first by `size`. */
  nested(number: number, size: number, write: (wire: Wire) => void): this {
    this.varint((number << 3) | 2).varint(size);
    write(this);
    return this;
  }
  done(): Buffer {
    return this.bytes.subarray(0, this.length);
  }
}

const varintSize = (value: number) => (value < 2 ** 7 ? 1 : value < 2 ** 14 ? 2 : value < 2 ** 21 ? 3 : value < 2 ** 28 ? 4 : 5);
const text = (value: string) => Buffer.from(value);

/** The raw layout of N elements: each a 4-byte little-endian length and the element. */
function rawElements(count: number): Buffer {
  const raw = Buffer.allocUnsafe(count * (4 + ELEMENT.length));
  for (let i = 0, o = 0; i < count; i++, o += 4 + ELEMENT.length) {
    raw.writeUInt32LE(ELEMENT.length, o);
    ELEMENT.copy(raw, o + 4);
  }
  return raw;
}

/** ModelInferRequest { model_name, inputs [{ name, datatype, shape [1, N], contents? }], raw_input_contents? } (grpc_service.proto's field numbers). */
function request(count: number, asContents: boolean): Buffer {
  const shape = new Wire(32).varint(1).varint(count).done();
  const head = new Wire(64).field(1, text('INPUT0')).field(2, text('BYTES')).field(3, shape).done();
  const elementField = 1 + varintSize(ELEMENT.length) + ELEMENT.length;
  const contentsSize = count * elementField;
  const inputSize = head.length + (asContents ? 1 + varintSize(contentsSize) + contentsSize : 0);
  const raw = asContents ? undefined : rawElements(count);
  const wire = new Wire(64 + inputSize + (raw ? raw.length + 8 : 0)).field(1, text('simple_identity'));
  wire.nested(5, inputSize, (input) => {
    input.bytes.set(head, input.length);
    input.length += head.length;
    if (!asContents) return;
    input.nested(5, contentsSize, (contents) => {
      for (let i = 0; i < count; i++) contents.field(8, ELEMENT);
    });
  });
  if (raw) wire.field(7, raw);
  return wire.done();
}

const identity = (bytes: Buffer) => bytes;

function call(client: grpc.Client, body: Buffer, expectedTail: Buffer): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', identity, identity, body, { deadline: Date.now() + 600_000 }, (err, response) => {
      if (err) return reject(err);
      // raw_output_contents is the answer's last field: its bytes are the elements' raw layout.
      if (!response!.subarray(response!.length - expectedTail.length).equals(expectedTail)) return reject(new Error(`wrong answer (${response!.length} bytes)`));
      resolve((performance.now() - started) / 1000);
    });
  });
}

const options = { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 };
const server = await startServer({
  httpAddress: '127.0.0.1', httpPort: 0, grpcAddress: '127.0.0.1', grpcPort: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
  modelRepositories: [EXAMPLE_REPOSITORY], modelControlMode: 'explicit', loadModels: ['simple_identity'], exitOnError: false,
  grpcMaxMessageSize: 1 << 30,
});

// The floor: grpc-js alone, answering with a message as large as Nereid's answer.
let echoAnswer = Buffer.alloc(0);
const echo = new grpc.Server(options);
echo.addService(
  { ModelInfer: { path: '/inference.GRPCInferenceService/ModelInfer', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
  { ModelInfer: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, echoAnswer) },
);
const echoPort = await new Promise<number>((resolve, reject) =>
  echo.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
);

const nereid = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure(), options);
const bare = new grpc.Client(`127.0.0.1:${echoPort}`, grpc.credentials.createInsecure(), options);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

for (const count of SIZES) {
  const raw = rawElements(count);
  const bodies = { contents: request(count, true), raw: request(count, false) };
  echoAnswer = Buffer.concat([new Wire(64).field(1, text('simple_identity')).field(2, text('1')).varint((6 << 3) | 2).varint(raw.length).done(), raw]);
  const seconds: Record<'contents' | 'raw' | 'bare', number[]> = { contents: [], raw: [], bare: [] };
  for (let round = 0; round < ROUNDS; round++) {
    seconds.raw.push(await call(nereid, bodies.raw, raw));
    seconds.contents.push(await call(nereid, bodies.contents, raw));
    seconds.bare.push(await call(bare, bodies.contents, raw));
  }
  const [contents, rawSeconds, bareSeconds] = [median(seconds.contents), median(seconds.raw), median(seconds.bare)];
  console.log(
    `${count} elements of ${ELEMENT.length} bytes (requests of ${(bodies.contents.length / 2 ** 20).toFixed(1)} MiB as bytes_contents, ` +
      `${(bodies.raw.length / 2 ** 20).toFixed(1)} MiB raw), median of ${ROUNDS}: bytes_contents ${contents.toFixed(2)} s, ` +
      `raw_input_contents ${rawSeconds.toFixed(2)} s, bare grpc-js ${bareSeconds.toFixed(2)} s; ` +
      `bytes_contents / raw ${(contents / rawSeconds).toFixed(2)}, bytes_contents / bare ${(contents / bareSeconds).toFixed(2)}`,
  );
}
nereid.close();
bare.close();
echo.forceShutdown();
await server.stop();
