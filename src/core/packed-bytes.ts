/**
 * BYTES tensor storage: every element in one buffer, in the raw tensor layout that gRPC
 * raw contents, HTTP binary data and shared memory use (each element a 4-byte
 * little-endian length, then its bytes), and the element count.
 *
 * Why not one Uint8Array per element: a request of millions of short strings would make
 * millions of objects, each decoded, cloned to a worker thread and back, and collected;
 * garbage collection and structured clone then cost seconds per million. Packed, the
 * elements are one buffer that decoders fill in one pass, threads hand over by transfer
 * and encoders write out as it is. It is a plain object (not a class) so that it keeps
 * its shape across postMessage.
 */
import { InferenceError } from './errors.js';

export interface PackedBytes {
  /** The number of elements. */
  readonly count: number;
  /** The elements back to back, each a 4-byte little-endian length and that many bytes. */
  readonly bytes: Uint8Array;
}

const LENGTH_BYTES = 4;
const EMPTY = new Uint8Array(0);
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Tells BYTES storage from a typed array (numeric storage). */
export function isPackedBytes(data: unknown): data is PackedBytes {
  return typeof data === 'object' && data !== null && !ArrayBuffer.isView(data) && 'count' in data && 'bytes' in data;
}

export const noByteElements = (): PackedBytes => ({ count: 0, bytes: new Uint8Array(0) });

const formatShape = (shape: readonly number[]) => `[${shape.join(',')}]`;

/**
 * Checks that `raw` holds exactly `count` length-prefixed elements and returns them as
 * PackedBytes on a copy of `raw` (one copy of the whole content: a view would keep a
 * whole received message alive and drag it along to a worker thread). `label` names the
 * tensor in errors (`input 'INPUT0'`), `shape` is what the count came from.
 */
export function packedBytesFromRaw(label: string, shape: readonly number[], count: number, raw: Uint8Array): PackedBytes {
  if (count * LENGTH_BYTES > raw.byteLength) {
    throw new InferenceError(
      'INVALID_ARG',
      `${label}: raw BYTES content of ${raw.byteLength} bytes cannot hold the ${count} elements that shape ${formatShape(shape)} needs (4 bytes of length each at least)`,
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const end = raw.byteLength;
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + LENGTH_BYTES > end) {
      throw new InferenceError(
        'INVALID_ARG',
        `${label}: raw BYTES content ends after ${i} of the ${count} elements that shape ${formatShape(shape)} needs`,
      );
    }
    const length = view.getUint32(offset, true);
    offset += LENGTH_BYTES;
    if (offset + length > end) {
      throw new InferenceError('INVALID_ARG', `${label}: raw BYTES element ${i} declares ${length} bytes but only ${end - offset} remain`);
    }
    offset += length;
  }
  if (offset !== end) {
    throw new InferenceError(
      'INVALID_ARG',
      `${label}: raw BYTES content has ${end - offset} bytes left over after the ${count} element(s) of shape ${formatShape(shape)}`,
    );
  }
  return { count, bytes: raw.slice() };
}

/**
 * Builds PackedBytes element by element in a buffer that grows by doubling, for
 * decoders that do not know the total size in advance (JSON strings, protobuf fields).
 */
export class PackedBytesWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private offset = 0;
  private count = 0;

  constructor(byteCapacity = 256) {
    this.buffer = new Uint8Array(Math.max(byteCapacity, 16));
    this.view = new DataView(this.buffer.buffer);
  }

  private reserve(bytes: number): void {
    const needed = this.offset + bytes;
    if (needed <= this.buffer.byteLength) return;
    const grown = new Uint8Array(Math.max(needed, this.buffer.byteLength * 2));
    grown.set(this.buffer.subarray(0, this.offset));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  /** Appends `source[start, end)` as one element. */
  add(source: Uint8Array, start = 0, end = source.byteLength): void {
    const length = end - start;
    this.reserve(LENGTH_BYTES + length);
    this.view.setUint32(this.offset, length, true);
    this.buffer.set(start === 0 && end === source.byteLength ? source : source.subarray(start, end), this.offset + LENGTH_BYTES);
    this.offset += LENGTH_BYTES + length;
    this.count++;
  }

  /** Appends `text` encoded as UTF-8. */
  addString(text: string): void {
    // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
    this.reserve(LENGTH_BYTES + text.length * 3);
    const { written } = utf8Encoder.encodeInto(text, this.buffer.subarray(this.offset + LENGTH_BYTES));
    this.view.setUint32(this.offset, written, true);
    this.offset += LENGTH_BYTES + written;
    this.count++;
  }

  /** The elements so far, in a buffer of their own (exactly their size, so that it can be transferred whole). */
  finish(): PackedBytes {
    const bytes = this.offset === this.buffer.byteLength ? this.buffer : this.buffer.slice(0, this.offset);
    return { count: this.count, bytes };
  }
}

/** Elements (byte strings, or text to encode as UTF-8) packed into one fresh buffer. */
export function packBytes(elements: ReadonlyArray<Uint8Array | string>): PackedBytes {
  let total = 0;
  let text = false;
  for (const element of elements) {
    if (typeof element === 'string') text = true;
    else total += element.byteLength;
  }
  if (text) {
    const writer = new PackedBytesWriter(elements.length * LENGTH_BYTES + total + 16);
    for (const element of elements) {
      if (typeof element === 'string') writer.addString(element);
      else writer.add(element);
    }
    return writer.finish();
  }
  const bytes = new Uint8Array(elements.length * LENGTH_BYTES + total);
  const view = new DataView(bytes.buffer);
  let offset = 0;
  for (const element of elements as readonly Uint8Array[]) {
    view.setUint32(offset, element.byteLength, true);
    bytes.set(element, offset + LENGTH_BYTES);
    offset += LENGTH_BYTES + element.byteLength;
  }
  return { count: elements.length, bytes };
}

/**
 * Calls `visit` with the start and end (in `packed.bytes`) of each element's content, in
 * order: a pass over the elements that makes no object per element.
 */
export function forEachByteElement(packed: PackedBytes, visit: (start: number, end: number, index: number) => void): void {
  const { bytes, count } = packed;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const start = offset + LENGTH_BYTES;
    const end = start + view.getUint32(offset, true);
    visit(start, end, i);
    offset = end;
  }
}

/** Each element as a Uint8Array viewing `packed.bytes` (one object per element: for APIs that want them). */
export function byteElementViews(packed: PackedBytes): Uint8Array[] {
  const views = new Array<Uint8Array>(packed.count);
  const { bytes } = packed;
  forEachByteElement(packed, (start, end, i) => {
    views[i] = start === end ? EMPTY : bytes.subarray(start, end);
  });
  return views;
}

/** Each element decoded as UTF-8 (bytes that are not UTF-8 become U+FFFD). */
export function byteElementStrings(packed: PackedBytes): string[] {
  const strings = new Array<string>(packed.count);
  const { bytes } = packed;
  forEachByteElement(packed, (start, end, i) => {
    strings[i] = start === end ? '' : utf8Decoder.decode(bytes.subarray(start, end));
  });
  return strings;
}

/** The byte offset in `packed.bytes` of element `index` (its length prefix), counting on from element `from` at `fromOffset`. */
function byteOffsetOf(packed: PackedBytes, index: number, from: number, fromOffset: number): number {
  const { bytes } = packed;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = fromOffset;
  for (let i = from; i < index; i++) offset += LENGTH_BYTES + view.getUint32(offset, true);
  return offset;
}

/** Consecutive groups of `counts[k]` elements, each viewing `packed.bytes`, in one pass. */
export function splitByteElements(packed: PackedBytes, counts: readonly number[]): PackedBytes[] {
  if (counts.length === 1 && counts[0] === packed.count) return [packed];
  const parts: PackedBytes[] = [];
  let index = 0;
  let offset = 0;
  for (const count of counts) {
    const end = byteOffsetOf(packed, index + count, index, offset);
    parts.push({ count, bytes: packed.bytes.subarray(offset, end) });
    index += count;
    offset = end;
  }
  return parts;
}

/** The elements of `parts`, in order, in one fresh buffer. */
export function concatByteElements(parts: readonly PackedBytes[]): PackedBytes {
  let total = 0;
  let count = 0;
  for (const part of parts) {
    total += part.bytes.byteLength;
    count += part.count;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part.bytes, offset);
    offset += part.bytes.byteLength;
  }
  return { count, bytes };
}

/** The packed elements with a buffer of their own, the same size as they are (a view on a larger buffer is copied). */
export function ownedByteElements(packed: PackedBytes): PackedBytes {
  const { bytes } = packed;
  if (bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return packed;
  return { count: packed.count, bytes: bytes.slice() };
}
