/**
 * The `bytes_contents` of one InferTensorContents, read straight from the wire into
 * PackedBytes. protobufjs would make one Buffer per element of that repeated field,
 * which for millions of elements costs seconds of allocation and garbage collection;
 * infer-wire.ts therefore decodes the contents with a type that lacks the field (so
 * protobufjs skips it as an unknown field) and packs the elements here: two passes
 * over the contents (count and size, then copy), no object per element. Field numbers
 * are those of grpc_service.proto.
 */
import type { PackedBytes } from '../../core/index.js';
import { LENGTH_DELIMITED, WireReader } from './wire-reader.js';

const BYTES_CONTENTS_TAG = (8 << 3) | LENGTH_DELIMITED;

const SHORT_ELEMENT = 32;

/** The bytes_contents of the InferTensorContents in `bytes[start, end)`, packed; undefined when it has none. */
export function packBytesContents(bytes: Buffer, start: number, end: number): PackedBytes | undefined {
  let count = 0;
  let size = 0;
  const counter = new WireReader(bytes, start, end);
  while (counter.pos < counter.end) {
    const tag = counter.varint32();
    if (tag === BYTES_CONTENTS_TAG) {
      const from = counter.delimited();
      count++;
      size += 4 + counter.pos - from;
    } else {
      counter.skip(tag & 7);
    }
  }
  if (count === 0) return undefined;
  const packed = new Uint8Array(size);
  const view = new DataView(packed.buffer);
  let offset = 0;
  const copier = new WireReader(bytes, start, end);
  while (copier.pos < copier.end) {
    const tag = copier.varint32();
    if (tag === BYTES_CONTENTS_TAG) {
      const from = copier.delimited();
      const to = copier.pos;
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
