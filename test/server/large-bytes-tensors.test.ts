/**
 * BYTES tensors of a million elements (issue 14) through simple_identity, over gRPC
 * (`bytes_contents` and raw contents) and HTTP binary data: answered byte for byte,
 * empty elements, NUL bytes and bytes that are not UTF-8 included; malformed ones
 * refused with errors that name the input, and the server serving on afterwards.
 * No timing assertion: the size shows the path is not one object per element only in
 * that the test finishes in seconds (bench/bytes-contents.ts measures it).
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageType } from '../../src/server/grpc/grpc-messages.js';
import { postBinary, unpackStrings } from '../helpers/binary-http.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { exampleModels, startTestServer, type TestServer } from '../helpers/test-server.js';

const COUNT = 1_000_000;

/** The elements cycle through these: empty, NUL, NULs inside, not UTF-8, UTF-8, and one long enough to be copied as a block. */
const PATTERNS: Buffer[] = [
  Buffer.alloc(0),
  Buffer.from([0]),
  Buffer.from('a\0b\0'),
  Buffer.from([0xff, 0xfe, 0x80, 0xc3]),
  Buffer.from('héllo'),
  Buffer.from(Array.from({ length: 70 }, (_, i) => (i * 37) & 0xff)),
  Buffer.from('x'),
];
const elementAt = (i: number) => PATTERNS[i % PATTERNS.length];

/** The raw layout of `count` elements: each a 4-byte little-endian length, then its bytes. */
function rawLayout(count: number): Buffer {
  let size = 0;
  for (let i = 0; i < count; i++) size += 4 + elementAt(i).length;
  const raw = Buffer.allocUnsafe(size);
  for (let i = 0, offset = 0; i < count; i++) {
    const element = elementAt(i);
    raw.writeUInt32LE(element.length, offset);
    element.copy(raw, offset + 4);
    offset += 4 + element.length;
  }
  return raw;
}

/** Protobuf wire bytes, written by hand: a generated client would spend seconds making an object per element. */
class Wire {
  private readonly parts: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  private flush(): void {
    this.parts.push(Buffer.from(this.scratch.subarray(0, this.used)));
    this.used = 0;
  }

  private room(bytes: number): void {
    if (this.used + bytes > this.scratch.length) this.flush();
    if (bytes > this.scratch.length) this.scratch = Buffer.allocUnsafe(bytes);
  }

  varint(value: number): this {
    this.room(10);
    while (value > 0x7f) {
      this.scratch[this.used++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.scratch[this.used++] = value;
    return this;
  }

  field(number: number, bytes: Uint8Array | string): this {
    const content = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    this.varint((number << 3) | 2).varint(content.length);
    this.room(content.length);
    this.scratch.set(content, this.used);
    this.used += content.length;
    return this;
  }

  finish(): Buffer {
    this.flush();
    return Buffer.concat(this.parts);
  }
}

interface RequestSpec {
  shape: number[];
  /** Elements sent as bytes_contents, one field each. */
  contents?: number;
  /** Sent as the one raw_input_contents entry. */
  raw?: Buffer;
  /** Extra InferTensorContents bytes (another field of it). */
  extraContents?: (wire: Wire) => void;
}

/** ModelInferRequest for simple_identity with one input INPUT0 (grpc_service.proto's field numbers). */
function inferRequest(spec: RequestSpec): Buffer {
  const shape = new Wire();
  for (const d of spec.shape) shape.varint(d);
  const input = new Wire().field(1, 'INPUT0').field(2, 'BYTES').field(3, shape.finish());
  if (spec.contents !== undefined || spec.extraContents) {
    const contents = new Wire();
    for (let i = 0; i < (spec.contents ?? 0); i++) contents.field(8, elementAt(i));
    spec.extraContents?.(contents);
    input.field(5, contents.finish());
  }
  const request = new Wire().field(1, 'simple_identity').field(5, input.finish());
  if (spec.raw) request.field(7, spec.raw);
  return request.finish();
}

interface InferAnswer {
  outputs: Array<{ name: string; datatype: string; shape: number[] }>;
  raw_output_contents: Buffer[];
}

let t: TestServer;
let client: grpc.Client;
let expected: Buffer;

const identity = (bytes: Buffer) => bytes;

function modelInfer(body: Buffer): Promise<InferAnswer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', identity, identity, body, (err, response) => {
      if (err) return reject(err);
      const type = messageType('ModelInferResponse');
      resolve(type.toObject(type.decode(response!), { longs: Number, defaults: true }) as InferAnswer);
    }),
  );
}

async function modelInferError(body: Buffer): Promise<grpc.ServiceError> {
  try {
    await modelInfer(body);
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('the request succeeded where a failure was expected');
}

beforeAll(async () => {
  t = await startTestServer(exampleModels('simple_identity'));
  client = new grpc.Client(t.grpcTarget, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  expected = rawLayout(COUNT);
});

afterAll(async () => {
  client?.close();
  await t?.server.stop();
});

describe('a million BYTES elements through simple_identity', () => {
  it('answers bytes_contents byte for byte over gRPC', async () => {
    const answer = await modelInfer(inferRequest({ shape: [1, COUNT], contents: COUNT }));
    expect(answer.outputs).toEqual([expect.objectContaining({ name: 'OUTPUT0', datatype: 'BYTES', shape: [1, COUNT] })]);
    expect(answer.raw_output_contents).toHaveLength(1);
    expect(answer.raw_output_contents[0].equals(expected)).toBe(true);
  });

  it('answers raw_input_contents byte for byte over gRPC', async () => {
    const answer = await modelInfer(inferRequest({ shape: [1, COUNT], raw: expected }));
    expect(answer.outputs[0].shape).toEqual([1, COUNT]);
    expect(answer.raw_output_contents[0].equals(expected)).toBe(true);
  });

  it('answers HTTP binary data byte for byte', async () => {
    const answer = await postBinary(
      `${t.url}/v2/models/simple_identity/infer`,
      { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, COUNT], parameters: { binary_data_size: expected.length } }], parameters: { binary_data_output: true } },
      [expected],
    );
    expect(answer.status).toBe(200);
    expect(answer.json.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'BYTES', shape: [1, COUNT] });
    expect(answer.outputs.get('OUTPUT0')!.equals(expected)).toBe(true);
  });

  it('keeps every element of a small request exact over the stream and as JSON where JSON can say it', async () => {
    const elements = PATTERNS.slice(0, 5);
    const streamClient = new InferenceClient(t.grpcTarget);
    const stream = streamClient.stream();
    const answered = new Promise<any>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
    });
    stream.write({ model_name: 'simple_identity', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, elements.length], contents: { bytes_contents: elements } }] });
    const reply = await answered;
    stream.end();
    streamClient.close();
    expect(reply.error_message).toBe('');
    expect(unpackStrings(Buffer.from(reply.infer_response.raw_output_contents[0]))).toEqual(elements);
    const json = await postBinary(`${t.url}/v2/models/simple_identity/infer`, { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 3], data: ['', 'a\u0000b', 'héllo'] }] }, []);
    expect(json.json.outputs[0].data).toEqual(['', 'a\u0000b', 'héllo']);
  });
});

describe('malformed large BYTES inputs', () => {
  it('refuses more bytes_contents than the shape holds, naming the input', async () => {
    const error = await modelInferError(inferRequest({ shape: [1, COUNT + 1], contents: COUNT }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe(`input 'INPUT0': expected ${COUNT + 1} values for shape [1,${COUNT + 1}], got ${COUNT} in 'bytes_contents'`);
  });

  it('refuses bytes_contents next to another contents field', async () => {
    const error = await modelInferError(inferRequest({ shape: [1, 3], contents: 3, extraContents: (wire) => wire.field(2, Buffer.from([1, 2, 3])) }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe(
      "unexpected explicit tensor data for input tensor 'INPUT0' for model 'simple_identity' in 'int_contents'; datatype 'BYTES' takes its values in 'bytes_contents'",
    );
  });

  it('refuses truncated raw BYTES over gRPC and HTTP, naming the input', async () => {
    // The last two elements are 'x' and '' (COUNT - 1 is 0 mod 7): without their last 5 bytes, 'x' has its length and no byte.
    const truncated = expected.subarray(0, expected.length - 5);
    const error = await modelInferError(inferRequest({ shape: [1, COUNT], raw: truncated }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe(`input 'INPUT0': raw BYTES element ${COUNT - 2} declares 1 bytes but only 0 remain`);
    const answer = await postBinary(
      `${t.url}/v2/models/simple_identity/infer`,
      { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, COUNT], parameters: { binary_data_size: truncated.length } }] },
      [truncated],
    );
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe(`input 'INPUT0': raw BYTES element ${COUNT - 2} declares 1 bytes but only 0 remain`);
  });

  it('refuses raw BYTES that end inside a length, and serves the next request', async () => {
    const error = await modelInferError(inferRequest({ shape: [1, 4], raw: Buffer.from([0, 0, 0, 0, 1, 0]) }));
    expect(error.details).toBe("input 'INPUT0': raw BYTES content of 6 bytes cannot hold the 4 elements that shape [1,4] needs (4 bytes of length each at least)");
    const answer = await modelInfer(inferRequest({ shape: [1, 7], contents: 7 }));
    expect(answer.raw_output_contents[0].equals(rawLayout(7))).toBe(true);
  });
});
