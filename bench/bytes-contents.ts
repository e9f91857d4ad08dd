/**
 * Large BYTES tensors over gRPC: ELEMENTS strings sent to simple_identity once as
 * `bytes_contents` (one protobuf field per element) and once as one raw_input_contents
 * entry (the baseline: the same bytes, length-prefixed), round trip through a real
 * server, the request written by hand so that the client costs nothing. Prints the
 * seconds of each and the ratio.
 *
 *   ELEMENTS=10485760 npx tsx bench/bytes-contents.ts
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { startServer } from '../src/server/index.js';
import { EXAMPLE_REPOSITORY } from '../test/helpers/test-server.js';

const ELEMENTS = Number(process.env.ELEMENTS ?? 10_485_760);
const ELEMENT = Buffer.from('hello');
const ROUNDS = Number(process.env.ROUNDS ?? 2);

/** ModelInferRequest { model_name, inputs [{ name, datatype, shape [1, N], contents? }], raw_input_contents? }, field numbers of grpc_service.proto. */
function request(asContents: boolean): Uint8Array {
  const input = protobuf.Writer.create();
  input.uint32((1 << 3) | 2).string('INPUT0').uint32((2 << 3) | 2).string('BYTES');
  input.uint32((3 << 3) | 2).fork().int64(1).int64(ELEMENTS).ldelim();
  const outer = protobuf.Writer.create();
  outer.uint32((1 << 3) | 2).string('simple_identity');
  if (asContents) {
    const contents = protobuf.Writer.create();
    for (let i = 0; i < ELEMENTS; i++) contents.uint32((8 << 3) | 2).bytes(ELEMENT);
    input.uint32((5 << 3) | 2).bytes(contents.finish());
    outer.uint32((5 << 3) | 2).bytes(input.finish());
  } else {
    const raw = Buffer.alloc(ELEMENTS * (4 + ELEMENT.length));
    for (let i = 0, o = 0; i < ELEMENTS; i++, o += 4 + ELEMENT.length) {
      raw.writeUInt32LE(ELEMENT.length, o);
      ELEMENT.copy(raw, o + 4);
    }
    outer.uint32((5 << 3) | 2).bytes(input.finish());
    outer.uint32((7 << 3) | 2).bytes(raw);
  }
  return outer.finish();
}

function call(target: string, bytes: Uint8Array): Promise<number> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
  });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/inference.GRPCInferenceService/ModelInfer',
      (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      (b: Buffer) => b,
      bytes,
      { deadline: Date.now() + 600_000 },
      (err, response) => {
        client.close();
        if (err) reject(err);
        else if (response!.length < ELEMENTS * ELEMENT.length) reject(new Error(`short answer: ${response!.length} bytes`));
        else resolve((performance.now() - started) / 1000);
      },
    );
  });
}

const server = await startServer({
  httpAddress: '127.0.0.1', httpPort: 0, grpcAddress: '127.0.0.1', grpcPort: 0, metricsAddress: '127.0.0.1', metricsPort: 0,
  modelRepositories: [EXAMPLE_REPOSITORY], modelControlMode: 'explicit', loadModels: ['simple_identity'], exitOnError: false,
  grpcMaxMessageSize: 1 << 30,
});
const target = `127.0.0.1:${server.grpcPort}`;
const bodies = { contents: request(true), raw: request(false) };
console.log(`${ELEMENTS} elements of ${ELEMENT.length} bytes; requests of ${(bodies.contents.length / 2 ** 20).toFixed(1)} MiB (bytes_contents) and ${(bodies.raw.length / 2 ** 20).toFixed(1)} MiB (raw)`);
const seconds: Record<'contents' | 'raw', number[]> = { contents: [], raw: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const form of ['raw', 'contents'] as const) seconds[form].push(await call(target, bodies[form]));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`raw_input_contents: ${median(seconds.raw).toFixed(2)} s   bytes_contents: ${median(seconds.contents).toFixed(2)} s   ratio ${(median(seconds.contents) / median(seconds.raw)).toFixed(2)}`);
await server.stop();
