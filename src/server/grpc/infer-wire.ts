/**
 * ModelInferRequest, the message every gRPC inference arrives in, read field by field
 * into the shape protobufjs gives (grpc-messages.ts), without its generic decoder. The
 * parts the hot path rarely carries (typed `contents` and the values of `parameters`)
 * are handed to protobufjs as sub-message bytes. Field numbers follow
 * proto/grpc_service.proto. Responses stay with protobufjs: a field-by-field writer
 * measured no faster (bench/grpc-codec.ts, bench/RESULTS.md).
 */
import protobuf from 'protobufjs';
import {
  modelInferRequestWithoutBytesContents,
  type InferInputTensorMessage,
  type InferParameterMessage,
  type Int64,
  type InferRequestedOutputTensorMessage,
  type InferTensorContentsMessage,
  type ModelInferRequestMessage,
  type ParameterMap,
} from './grpc-messages.js';
import { packBytesContents } from './bytes-contents.js';
import { FIXED64, FIXED32, LENGTH_DELIMITED, VARINT, WireReader, WireError } from './wire-reader.js';
import { noByteElements } from '../../core/index.js';

function expectWireType(tag: number, expected: number, field: string, reader: WireReader): void {
  if ((tag & 7) !== expected) throw new WireError(`field '${field}' has wire type ${tag & 7} at offset ${reader.pos}, expected ${expected}`);
}

/** A 64-bit integer parameter: a number where exact, a Long beyond ±2^53 (the checks print its exact value). */
function int64Value(reader: WireReader, unsigned: boolean): Int64 {
  const [lo, hi] = reader.varint64Bits();
  const value = (unsigned ? hi : hi | 0) * 0x100000000 + lo;
  return Number.isSafeInteger(value) ? value : (new protobuf.util.LongBits(lo, hi).toLong(unsigned) as protobuf.Long);
}

/** InferParameter: its oneof, the last of its fields on the wire winning, as protobuf specifies. */
function readParameter(reader: WireReader): InferParameterMessage {
  const start = reader.delimited();
  const sub = new WireReader(reader.buf, start, reader.pos);
  let parameter: InferParameterMessage = {};
  while (sub.pos < sub.end) {
    const tag = sub.varint32();
    switch (tag >>> 3) {
      case 1: {
        expectWireType(tag, VARINT, 'bool_param', sub);
        const [lo, hi] = sub.varint64Bits();
        parameter = { parameter_choice: 'bool_param', bool_param: lo !== 0 || hi !== 0 };
        break;
      }
      case 2:
        expectWireType(tag, VARINT, 'int64_param', sub);
        parameter = { parameter_choice: 'int64_param', int64_param: int64Value(sub, false) };
        break;
      case 3:
        expectWireType(tag, LENGTH_DELIMITED, 'string_param', sub);
        parameter = { parameter_choice: 'string_param', string_param: sub.string() };
        break;
      case 4:
        expectWireType(tag, FIXED64, 'double_param', sub);
        parameter = { parameter_choice: 'double_param', double_param: sub.double() };
        break;
      case 5:
        expectWireType(tag, VARINT, 'uint64_param', sub);
        parameter = { parameter_choice: 'uint64_param', uint64_param: int64Value(sub, true) };
        break;
      default:
        sub.skip(tag & 7);
    }
  }
  return parameter;
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
      value = readParameter(entry);
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
        {
          // protobufjs decodes the typed fields; bytes_contents, which it would make one Buffer per element of, is packed here.
          const contents = sub.bytes();
          input.contents = leanContentsType().decode(contents) as unknown as InferTensorContentsMessage;
          input.contents.bytes_contents = packBytesContents(sub.buf, sub.pos - contents.byteLength, sub.pos) ?? noByteElements();
        }
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
