/**
 * ModelInferResponse (and ModelStreamInferResponse around it) written field by field
 * into one exactly sized Buffer: every streamed and unary answer goes through here, and
 * building protobufjs's plain objects and then encoding them with its generic writer
 * cost more than the bytes themselves (bench/grpc-codec.ts). Field numbers follow
 * proto/grpc_service.proto; the output decodes to the same message as protobufjs's
 * encoding (test/server/grpc-infer-response-writer.test.ts).
 */
import { tensorDataToBytes, type InferenceRequest, type InferenceResponse, type Parameters } from '../../core/index.js';

type ParameterValue = Parameters[string];

const LENGTH_DELIMITED = 2;
const tag = (field: number, wireType: number) => (field << 3) | wireType;

const varintSize = (value: number): number =>
  value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : Math.ceil(Math.log2(value + 1) / 7);

/** UTF-8 byte length; a loop for the short ASCII names answers carry, Buffer.byteLength otherwise. */
function utf8Length(text: string): number {
  const length = text.length;
  if (length > 64) return Buffer.byteLength(text);
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text);
  return length;
}

const delimitedSize = (length: number) => varintSize(length) + length;

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(value: number): void {
    const buf = this.buf;
    while (value >= 0x80) {
      buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buf[this.pos++] = value;
  }

  /** A negative int64 as protobuf writes it: ten bytes of two's complement. */
  negativeInt64(value: number): void {
    let bits = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = Number(bits & 0x7fn) | 0x80;
      bits >>= 7n;
    }
    this.buf[this.pos++] = Number(bits);
  }

  string(text: string, byteLength: number): void {
    this.varint(byteLength);
    if (byteLength === text.length) {
      const buf = this.buf;
      for (let i = 0; i < byteLength; i++) buf[this.pos++] = text.charCodeAt(i);
    } else {
      this.pos += this.buf.write(text, this.pos, 'utf8');
    }
  }

  bytes(bytes: Uint8Array): void {
    this.varint(bytes.byteLength);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
  }
}

/** Integers travel as int64_param; beyond ±2^53 a number is not an exact integer, so it goes as a double. */
const isInt64 = (value: number) => Number.isSafeInteger(value);

/** InferParameter's oneof field, as parametersToWire (infer-parameters.ts) chooses it. */
function parameterValueSize(value: ParameterValue): number {
  if (typeof value === 'boolean') return 2;
  if (typeof value === 'string') return 1 + delimitedSize(utf8Length(value));
  if (isInt64(value)) return 1 + (value < 0 ? 10 : varintSize(value));
  return 9;
}

function writeParameterValue(writer: Writer, value: ParameterValue): void {
  if (typeof value === 'boolean') {
    writer.varint(tag(1, 0));
    writer.varint(value ? 1 : 0);
  } else if (typeof value === 'string') {
    writer.varint(tag(3, LENGTH_DELIMITED));
    writer.string(value, utf8Length(value));
  } else if (isInt64(value)) {
    writer.varint(tag(2, 0));
    if (value < 0) writer.negativeInt64(value);
    else writer.varint(value);
  } else {
    writer.varint(tag(4, 1));
    writer.buf.writeDoubleLE(value, writer.pos);
    writer.pos += 8;
  }
}

/** One `map<string, InferParameter>` entry: { 1: key, 2: InferParameter }. */
function parameterEntrySize(key: string, value: ParameterValue): number {
  const inner = 1 + delimitedSize(utf8Length(key)) + 1 + delimitedSize(parameterValueSize(value));
  return inner;
}

function writeParameterEntry(writer: Writer, field: number, key: string, value: ParameterValue): void {
  writer.varint(tag(field, LENGTH_DELIMITED));
  writer.varint(parameterEntrySize(key, value));
  writer.varint(tag(1, LENGTH_DELIMITED));
  writer.string(key, utf8Length(key));
  writer.varint(tag(2, LENGTH_DELIMITED));
  writer.varint(parameterValueSize(value));
  writeParameterValue(writer, value);
}

function shapeSize(shape: readonly number[]): number {
  let size = 0;
  for (const dimension of shape) {
    if (!(dimension >= 0)) throw new Error(`output shape [${shape.join(',')}] has a negative dimension`);
    size += varintSize(dimension);
  }
  return size;
}

/** InferOutputTensor { 1 name, 2 datatype, 3 packed shape }. */
function outputSize(name: string, datatype: string, shape: readonly number[]): number {
  const packed = shapeSize(shape);
  return 1 + delimitedSize(utf8Length(name)) + 1 + delimitedSize(utf8Length(datatype)) + (shape.length > 0 ? 1 + delimitedSize(packed) : 0);
}

const NO_BYTES = new Uint8Array(0);

/** The outputs a request asked to have written into shared memory: their raw entry stays empty, as in Triton. */
function sharedMemoryOutputs(request: InferenceRequest): Set<string> | undefined {
  let names: Set<string> | undefined;
  for (const output of request.outputs ?? []) {
    if (output.parameters?.['shared_memory_region'] !== undefined) (names ??= new Set()).add(output.name);
  }
  return names;
}

/**
 * The bytes of ModelInferResponse for `response`, or of ModelStreamInferResponse
 * { infer_response } when `stream`; `finalResponse` adds (or overrides) the
 * `triton_final_response` parameter.
 */
export function writeInferResponse(response: InferenceResponse, request: InferenceRequest, stream: boolean, finalResponse?: boolean): Buffer {
  const inSharedMemory = sharedMemoryOutputs(request);
  const { outputs } = response;
  const raws: Uint8Array[] = new Array(outputs.length);
  const outputSizes: number[] = new Array(outputs.length);
  const modelLength = utf8Length(response.model);
  const versionLength = utf8Length(response.version);
  const idLength = response.id ? utf8Length(response.id) : 0;
  let size = 1 + delimitedSize(modelLength) + 1 + delimitedSize(versionLength);
  if (response.id) size += 1 + delimitedSize(idLength);
  const parameters: Parameters | undefined = response.parameters;
  if (parameters) {
    for (const key in parameters) {
      if (finalResponse !== undefined && key === FINAL_RESPONSE) continue;
      size += 1 + delimitedSize(parameterEntrySize(key, parameters[key]));
    }
  }
  if (finalResponse !== undefined) size += 1 + delimitedSize(parameterEntrySize(FINAL_RESPONSE, finalResponse));
  for (let i = 0; i < outputs.length; i++) {
    const output = outputs[i];
    outputSizes[i] = outputSize(output.name, output.datatype, output.shape);
    size += 1 + delimitedSize(outputSizes[i]);
    raws[i] = inSharedMemory?.has(output.name) ? NO_BYTES : tensorDataToBytes(output.datatype, output.data);
    size += 1 + delimitedSize(raws[i].byteLength);
  }
  const total = stream ? 1 + delimitedSize(size) : size;
  const writer = new Writer(Buffer.allocUnsafe(total));
  if (stream) {
    writer.varint(tag(2, LENGTH_DELIMITED));
    writer.varint(size);
  }
  writer.varint(tag(1, LENGTH_DELIMITED));
  writer.string(response.model, modelLength);
  writer.varint(tag(2, LENGTH_DELIMITED));
  writer.string(response.version, versionLength);
  if (response.id) {
    writer.varint(tag(3, LENGTH_DELIMITED));
    writer.string(response.id, idLength);
  }
  if (parameters) {
    for (const key in parameters) {
      if (finalResponse !== undefined && key === FINAL_RESPONSE) continue;
      writeParameterEntry(writer, 4, key, parameters[key]);
    }
  }
  if (finalResponse !== undefined) writeParameterEntry(writer, 4, FINAL_RESPONSE, finalResponse);
  for (let i = 0; i < outputs.length; i++) {
    const { name, datatype, shape } = outputs[i];
    writer.varint(tag(5, LENGTH_DELIMITED));
    writer.varint(outputSizes[i]);
    writer.varint(tag(1, LENGTH_DELIMITED));
    writer.string(name, utf8Length(name));
    writer.varint(tag(2, LENGTH_DELIMITED));
    writer.string(datatype, utf8Length(datatype));
    if (shape.length > 0) {
      writer.varint(tag(3, LENGTH_DELIMITED));
      writer.varint(shapeSize(shape));
      for (const dimension of shape) writer.varint(dimension);
    }
  }
  for (const raw of raws) {
    writer.varint(tag(6, LENGTH_DELIMITED));
    writer.bytes(raw);
  }
  if (writer.pos !== total) throw new Error(`ModelInferResponse writer: wrote ${writer.pos} of ${total} bytes`);
  return writer.buf;
}

/** Triton's parameter that marks the last response to a request on a stream. */
export const FINAL_RESPONSE = 'triton_final_response';
