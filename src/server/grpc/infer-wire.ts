/**
 * ModelInferRequest read and ModelInferResponse / ModelStreamInferResponse written
 * field by field, the messages every inference crosses: no intermediate message
 * objects, one exactly sized Buffer per response. protobufjs's reflection codecs
 * (grpc-messages.ts) stay for every other message, and for the parts of a request that
 * the hot path rarely carries (typed `contents` and the values of `parameters`), which
 * are handed to them as sub-message bytes. Field numbers follow proto/grpc_service.proto;
 * responses come out byte for byte as protobufjs writes them (fields in number order,
 * strings and bytes written when present, even empty).
 */
import type { Parameters } from '../../core/index.js';
import {
  messageType,
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
export class WireError extends Error {}

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
        input.contents = messageType('InferTensorContents').decode(sub.bytes()) as unknown as InferTensorContentsMessage;
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

/** An output of a response as it goes on the wire: its bytes are `raw` (empty for one written to shared memory). */
export interface WireOutput {
  name: string;
  datatype: string;
  shape: readonly number[];
  raw: Uint8Array;
}

/** ModelInferResponse's fields; `id` and `parameters` are written only when given. */
export interface WireInferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Parameters;
  outputs: readonly WireOutput[];
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Bytes of an int64 varint: ten for any negative value, as two's complement. */
function int64Size(value: number): number {
  return value < 0 ? 10 : varintSize(value);
}

const lengthDelimitedSize = (contentSize: number) => 1 + varintSize(contentSize) + contentSize;

/** A parameter's value as protobufjs writes it from parametersToWire's objects. */
function parameterValueSize(value: Parameters[string]): number {
  if (typeof value === 'boolean') return 2;
  if (typeof value === 'string') return lengthDelimitedSize(Buffer.byteLength(value));
  if (Number.isInteger(value)) return 1 + int64Size(value);
  return 9;
}

/** The bytes inside one map entry: its key (field 1) and its InferParameter value (field 2). */
function parameterEntryContentSize(key: string, value: Parameters[string]): number {
  return lengthDelimitedSize(Buffer.byteLength(key)) + lengthDelimitedSize(parameterValueSize(value));
}

function shapeSize(shape: readonly number[]): number {
  let size = 0;
  for (const dim of shape) size += int64Size(dim);
  return size;
}

function outputSize(output: WireOutput): number {
  const shape = shapeSize(output.shape);
  return lengthDelimitedSize(Buffer.byteLength(output.name)) + lengthDelimitedSize(Buffer.byteLength(output.datatype)) + (output.shape.length > 0 ? lengthDelimitedSize(shape) : 0);
}

function inferResponseSize(response: WireInferResponse): number {
  let size = lengthDelimitedSize(Buffer.byteLength(response.model_name)) + lengthDelimitedSize(Buffer.byteLength(response.model_version));
  if (response.id !== undefined) size += lengthDelimitedSize(Buffer.byteLength(response.id));
  if (response.parameters) for (const key in response.parameters) size += lengthDelimitedSize(parameterEntryContentSize(key, response.parameters[key]));
  for (const output of response.outputs) size += lengthDelimitedSize(outputSize(output));
  for (const output of response.outputs) size += lengthDelimitedSize(output.raw.byteLength);
  return size;
}

class WireWriter {
  pos = 0;
  readonly buf: Buffer;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  byte(value: number): void {
    this.buf[this.pos++] = value;
  }

  varint(value: number): void {
    while (value >= 0x80) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buf[this.pos++] = value;
  }

  int64(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    // Two's complement over 64 bits, in ten bytes.
    let lo = value % 0x100000000;
    let hi = Math.floor(value / 0x100000000);
    lo = lo < 0 ? lo + 0x100000000 : lo;
    hi = (hi + 0x100000000) >>> 0;
    for (let k = 0; k < 4; k++) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    this.buf[this.pos++] = (lo | ((hi & 0x07) << 4)) | 0x80;
    hi >>>= 3;
    for (let k = 0; k < 4; k++) {
      this.buf[this.pos++] = (hi & 0x7f) | 0x80;
      hi >>>= 7;
    }
    this.buf[this.pos++] = hi & 0x01;
  }

  string(tag: number, value: string): void {
    this.byte(tag);
    const length = Buffer.byteLength(value);
    this.varint(length);
    this.pos += this.buf.write(value, this.pos, length, 'utf8');
  }

  bytes(tag: number, value: Uint8Array): void {
    this.byte(tag);
    this.varint(value.byteLength);
    this.buf.set(value, this.pos);
    this.pos += value.byteLength;
  }

  parameterEntry(tag: number, key: string, value: Parameters[string]): void {
    this.byte(tag);
    this.varint(parameterEntryContentSize(key, value));
    this.string(0x0a, key);
    this.byte(0x12);
    this.varint(parameterValueSize(value));
    if (typeof value === 'boolean') {
      this.byte(0x08);
      this.byte(value ? 1 : 0);
    } else if (typeof value === 'string') this.string(0x1a, value);
    else if (Number.isInteger(value)) {
      this.byte(0x10);
      this.int64(value);
    } else {
      this.byte(0x21);
      this.buf.writeDoubleLE(value, this.pos);
      this.pos += 8;
    }
  }

  inferResponse(response: WireInferResponse): void {
    this.string(0x0a, response.model_name);
    this.string(0x12, response.model_version);
    if (response.id !== undefined) this.string(0x1a, response.id);
    if (response.parameters) for (const key in response.parameters) this.parameterEntry(0x22, key, response.parameters[key]);
    for (const output of response.outputs) {
      this.byte(0x2a);
      this.varint(outputSize(output));
      this.string(0x0a, output.name);
      this.string(0x12, output.datatype);
      if (output.shape.length > 0) {
        this.byte(0x1a);
        this.varint(shapeSize(output.shape));
        for (const dim of output.shape) this.int64(dim);
      }
    }
    for (const output of response.outputs) this.bytes(0x32, output.raw);
  }
}

export function writeModelInferResponse(response: WireInferResponse): Buffer {
  const writer = new WireWriter(inferResponseSize(response));
  writer.inferResponse(response);
  return writer.buf;
}

/** ModelStreamInferResponse { infer_response = 2 } around a response. */
export function writeStreamInferResponse(response: WireInferResponse): Buffer {
  const size = inferResponseSize(response);
  const writer = new WireWriter(lengthDelimitedSize(size));
  writer.byte(0x12);
  writer.varint(size);
  writer.inferResponse(response);
  return writer.buf;
}
