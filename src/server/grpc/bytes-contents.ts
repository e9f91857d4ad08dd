/**
 * The `bytes_contents` of a ModelInferRequest's inputs, read straight from the wire
 * into PackedBytes. protobufjs would make one Buffer per element of that repeated
 * field, which for millions of elements costs seconds of allocation and garbage
 * collection; the request is therefore decoded with a type that lacks the field (so
 * protobufjs skips it as an unknown field) and the elements are collected here, two
 * passes over each InferTensorContents (count and size, then copy) and no object per
 * element. Only called on bytes that protobufjs has just decoded, so the structure is
 * known to be well formed; field numbers are those of grpc_service.proto.
 */
import type { PackedBytes } from '../../core/index.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

const REQUEST_INPUTS = 5;
const INPUT_CONTENTS = 5;
const CONTENTS_BYTES = 8;

const SHORT_ELEMENT = 32;

class WireReader {
  position: number;

  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.position = start;
  }

  get done(): boolean {
    return this.position >= this.end;
  }

  /** A varint of up to 32 bits (tags and lengths); longer ones are skipped past their 32nd bit. */
  uint32(): number {
    const { bytes } = this;
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[this.position++];
      if (shift < 32) value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return value >>> 0;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        while (this.bytes[this.position++] & 0x80);
        return;
      case WIRE_FIXED64:
        this.position += 8;
        return;
      case WIRE_LENGTH_DELIMITED: {
        const length = this.uint32();
        this.position += length;
        return;
      }
      case WIRE_START_GROUP:
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === WIRE_END_GROUP) return;
          this.skip(tag & 7);
        }
      case WIRE_FIXED32:
        this.position += 4;
        return;
      default:
        throw new Error(`wire type ${wireType} at offset ${this.position}`);
    }
  }

  /** Moves past the next length-delimited field; returns where its content starts (it ends at `position`). */
  span(): number {
    const length = this.uint32();
    const start = this.position;
    this.position += length;
    return start;
  }
}

/** The bytes_contents of one InferTensorContents, `bytes[start, end)`, packed; undefined when it has none. */
function packContents(bytes: Uint8Array, start: number, end: number): PackedBytes | undefined {
  let count = 0;
  let size = 0;
  const counter = new WireReader(bytes, start, end);
  while (!counter.done) {
    const tag = counter.uint32();
    if (tag === ((CONTENTS_BYTES << 3) | WIRE_LENGTH_DELIMITED)) {
      const from = counter.span();
      count++;
      size += 4 + counter.position - from;
    } else {
      counter.skip(tag & 7);
    }
  }
  if (count === 0) return undefined;
  const packed = new Uint8Array(size);
  const view = new DataView(packed.buffer);
  let offset = 0;
  const copier = new WireReader(bytes, start, end);
  while (!copier.done) {
    const tag = copier.uint32();
    if (tag === ((CONTENTS_BYTES << 3) | WIRE_LENGTH_DELIMITED)) {
      const from = copier.span();
      const to = copier.position;
      view.setUint32(offset, to - from, true);
      offset += 4;
      // Short elements byte by byte: a subarray per element would be an object per element.
      if (to - from <= SHORT_ELEMENT) for (let i = from; i < to; i++) packed[offset++] = bytes[i];
      else {
        packed.set(bytes.subarray(from, to), offset);
        offset += to - from;
      }
    } else {
      copier.skip(tag & 7);
    }
  }
  return { count, bytes: packed };
}

/**
 * For each input of the ModelInferRequest in `message` (by position in `inputs`) that
 * carries bytes_contents, those elements, packed. As protobufjs does, a `contents`
 * field given twice for one input counts only the last time.
 */
export function readBytesContents(message: Uint8Array): Map<number, PackedBytes> {
  const found = new Map<number, PackedBytes>();
  const request = new WireReader(message, 0, message.byteLength);
  let inputIndex = 0;
  while (!request.done) {
    const tag = request.uint32();
    if (tag !== ((REQUEST_INPUTS << 3) | WIRE_LENGTH_DELIMITED)) {
      request.skip(tag & 7);
      continue;
    }
    const inputStart = request.span();
    const input = new WireReader(message, inputStart, request.position);
    while (!input.done) {
      const inputTag = input.uint32();
      if (inputTag !== ((INPUT_CONTENTS << 3) | WIRE_LENGTH_DELIMITED)) {
        input.skip(inputTag & 7);
        continue;
      }
      const contentsStart = input.span();
      const packed = packContents(message, contentsStart, input.position);
      if (packed) found.set(inputIndex, packed);
      else found.delete(inputIndex);
    }
    inputIndex++;
  }
  return found;
}
