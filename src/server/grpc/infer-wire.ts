/**
 * ModelInferRequest, the message every gRPC inference arrives in, read field by field
 * into the shape protobufjs gives (grpc-messages.ts), without its generic decoder. The
 * parts the hot path rarely carries (typed `contents` and the values of `parameters`)
 * are handed to protobufjs as sub-message bytes. Field numbers follow
 * proto/grpc_service.proto. Responses stay with protobufjs: a field-by-field writer
 * measured no faster (bench/grpc-codec.ts, bench/RESULTS.md).
 */
import type protobuf from 'protobufjs';
import {
  messageType,
  modelInferRequestWithoutBytesContents,
  type InferInputTensorMessage,
  type InferParameterMessage,
  type InferRequestedOutputTensorMessage,
  type InferTensorContentsMessage,
  type ModelInferRequestMessage,
  type ParameterMap,
} from './grpc-messages.js';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** A malformed message; the codec's callers turn it into INVALID_ARG. */
class WireError extends Error {}

class WireReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint32(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at offset ${this.pos}`);
      const byte = this.buf[this.pos++];
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value >>> 0;
    }
    // The upper bytes of a 64-bit varint (a negative int32 takes ten) are dropped, as protobufjs does.
    for (let k = 0; k < 5; k++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at offset ${this.pos}`);
      if (this.buf[this.pos++] < 0x80) return value >>> 0;
    }
    throw new WireError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  /** A signed 64-bit varint as the nearest number (exact within ±2^53). */
  int64(): number {
    let lo = 0;
    let hi = 0;
    for (let k = 0; k < 10; k++) {
      if (this.pos >= this.end) throw new WireError(`truncated varint at offset ${this.pos}`);
      const byte = this.buf[this.pos++];
      const bits = byte & 0x7f;
      if (k < 4) lo |= bits << (7 * k);
      else if (k === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >> 4;
      } else hi |= bits << (7 * k - 32);
      if (byte < 0x80) return hi * 0x100000000 + (lo >>> 0);
    }
    throw new WireError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  /** The [start, end) of a length-delimited field's bytes, moving past them. */
  delimited(): number {
    const length = this.varint32();
    const start = this.pos;
    if (length > this.end - start) throw new WireError(`field of ${length} bytes at offset ${start} runs past the end of its message`);
    this.pos = start + length;
    return start;
  }

  bytes(): Uint8Array {
    const start = this.delimited();
    return this.buf.subarray(start, this.pos);
  }

  string(): string {
    const start = this.delimited();
    return this.buf.toString('utf8', start, this.pos);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint32();
        return;
      case FIXED64:
        this.advance(8);
        return;
      case LENGTH_DELIMITED:
        this.delimited();
        return;
      case FIXED32:
        this.advance(4);
        return;
      default:
        throw new WireError(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  private advance(count: number): void {
    if (count > this.end - this.pos) throw new WireError(`truncated field at offset ${this.pos}`);
    this.pos += count;
  }
}

function expectWireType(tag: number, expected: number, field: string, reader: WireReader): void {
  if ((tag & 7) !== expected) throw new WireError(`field '${field}' has wire type ${tag & 7} at offset ${reader.pos}, expected ${expected}`);
}

/** One entry of `map<string, InferParameter>`; a value without its field decodes as null, as in protobufjs. */
function readParameterEntry(reader: WireReader, into: ParameterMap): void {
  const start = reader.delimited();
  const entry = new WireReader(reader.buf, start, reader.pos);
  let key = '';
  let value: InferParameterMessage | null = null;
  while (entry.pos < entry.end) {
    const tag = entry.varint32();
    if (tag >>> 3 === 1) {
      expectWireType(tag, LENGTH_DELIMITED, 'parameters key', entry);
      key = entry.string();
    } else if (tag >>> 3 === 2) {
      expectWireType(tag, LENGTH_DELIMITED, 'parameters value', entry);
      value = messageType('InferParameter').decode(entry.bytes()) as unknown as InferParameterMessage;
    } else entry.skip(tag & 7);
  }
  (into as Record<string, InferParameterMessage | null>)[key] = value;
}

function readShape(reader: WireReader, tag: number, shape: number[]): void {
  if ((tag & 7) === LENGTH_DELIMITED) {
    const start = reader.delimited();
    const packed = new WireReader(reader.buf, start, reader.pos);
    while (packed.pos < packed.end) shape.push(packed.int64());
  } else {
    expectWireType(tag, VARINT, 'shape', reader);
    shape.push(reader.int64());
  }
}

let leanContents: protobuf.Type | undefined;

/** InferTensorContents without its bytes_contents field. */
function leanContentsType(): protobuf.Type {
  leanContents ??= modelInferRequestWithoutBytesContents().lookupType('inference.InferTensorContents');
  return leanContents;
}

function readInput(reader: WireReader): InferInputTensorMessage {
  const start = reader.delimited();
  const sub = new WireReader(reader.buf, start, reader.pos);
  const input: InferInputTensorMessage = { name: '', datatype: '', shape: [], parameters: {}, contents: null };
  const shape = input.shape as number[];
  while (sub.pos < sub.end) {
    const tag = sub.varint32();
    switch (tag >>> 3) {
      case 1:
        expectWireType(tag, LENGTH_DELIMITED, 'inputs.name', sub);
        input.name = sub.string();
        break;
      case 2:
        expectWireType(tag, LENGTH_DELIMITED, 'inputs.datatype', sub);
        input.datatype = sub.string();
        break;
      case 3:
        readShape(sub, tag, shape);
        break;
      case 4:
        expectWireType(tag, LENGTH_DELIMITED, 'inputs.parameters', sub);
        readParameterEntry(sub, input.parameters);
        break;
      case 5:
        expectWireType(tag, LENGTH_DELIMITED, 'inputs.contents', sub);
        // bytes_contents is left to bytes-contents.ts, which packs the elements (see parseModelInferRequest).
        input.contents = leanContentsType().decode(sub.bytes()) as unknown as InferTensorContentsMessage;
        break;
      default:
        sub.skip(tag & 7);
    }
  }
  return input;
}

function readRequestedOutput(reader: WireReader): InferRequestedOutputTensorMessage {
  const start = reader.delimited();
  const sub = new WireReader(reader.buf, start, reader.pos);
  const output: InferRequestedOutputTensorMessage = { name: '', parameters: {} };
  while (sub.pos < sub.end) {
    const tag = sub.varint32();
    if (tag >>> 3 === 1) {
      expectWireType(tag, LENGTH_DELIMITED, 'outputs.name', sub);
      output.name = sub.string();
    } else if (tag >>> 3 === 2) {
      expectWireType(tag, LENGTH_DELIMITED, 'outputs.parameters', sub);
      readParameterEntry(sub, output.parameters);
    } else sub.skip(tag & 7);
  }
  return output;
}

/** ModelInferRequest wire bytes → its message; throws an Error saying where the bytes are malformed. */
export function readModelInferRequest(bytes: Uint8Array): ModelInferRequestMessage {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new WireReader(buf, 0, buf.length);
  const message: ModelInferRequestMessage = { model_name: '', model_version: '', id: '', parameters: {}, inputs: [], outputs: [], raw_input_contents: [] };
  while (reader.pos < reader.end) {
    const tag = reader.varint32();
    switch (tag >>> 3) {
      case 1:
        expectWireType(tag, LENGTH_DELIMITED, 'model_name', reader);
        message.model_name = reader.string();
        break;
      case 2:
        expectWireType(tag, LENGTH_DELIMITED, 'model_version', reader);
        message.model_version = reader.string();
        break;
      case 3:
        expectWireType(tag, LENGTH_DELIMITED, 'id', reader);
        message.id = reader.string();
        break;
      case 4:
        expectWireType(tag, LENGTH_DELIMITED, 'parameters', reader);
        readParameterEntry(reader, message.parameters);
        break;
      case 5:
        expectWireType(tag, LENGTH_DELIMITED, 'inputs', reader);
        message.inputs.push(readInput(reader));
        break;
      case 6:
        expectWireType(tag, LENGTH_DELIMITED, 'outputs', reader);
        message.outputs.push(readRequestedOutput(reader));
        break;
      case 7:
        expectWireType(tag, LENGTH_DELIMITED, 'raw_input_contents', reader);
        message.raw_input_contents.push(reader.bytes());
        break;
      default:
        reader.skip(tag & 7);
    }
  }
  return message;
}
