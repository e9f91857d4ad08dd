/** PackedBytes, BYTES storage: building, reading, cutting and joining packed elements. */
import { describe, expect, it } from 'vitest';
import {
  allocateTensorData,
  byteElementStrings,
  byteElementViews,
  concatByteElements,
  copyTensorData,
  forEachByteElement,
  isPackedBytes,
  ownedByteElements,
  packBytes,
  PackedBytesWriter,
  splitByteElements,
  storedElementCount,
  type PackedBytes,
} from '../../src/core/index.js';

const elements = [Buffer.alloc(0), Buffer.from([0, 0xff, 0xfe]), Buffer.from('héllo'), Buffer.alloc(300, 7), Buffer.from('z')];
const views = (packed: PackedBytes) => byteElementViews(packed).map((view) => Buffer.from(view));

describe('PackedBytes', () => {
  it('packs byte strings and text in the raw layout, and reads them back exactly', () => {
    const packed = packBytes(elements);
    expect(packed.count).toBe(5);
    expect(packed.bytes.byteLength).toBe(5 * 4 + 0 + 3 + 6 + 300 + 1);
    expect(Buffer.from(packed.bytes.subarray(0, 11))).toEqual(Buffer.from([0, 0, 0, 0, 3, 0, 0, 0, 0, 0xff, 0xfe]));
    expect(views(packed)).toEqual(elements);
    expect(byteElementStrings(packBytes(['', 'a\0b', 'wörld', Buffer.from('x')]))).toEqual(['', 'a\0b', 'wörld', 'x']);
    const seen: number[][] = [];
    forEachByteElement(packed, (start, end, index) => seen.push([index, end - start]));
    expect(seen).toEqual([[0, 0], [1, 3], [2, 6], [3, 300], [4, 1]]);
  });

  it('grows a writer past its first capacity without losing elements', () => {
    const writer = new PackedBytesWriter(16);
    for (let i = 0; i < 1000; i++) {
      if (i % 2 === 0) writer.addString(`élément ${i}`);
      else writer.add(Buffer.from([i & 0xff, 0]));
    }
    const packed = writer.finish();
    expect(packed.count).toBe(1000);
    expect(packed.bytes.byteLength).toBe(packed.bytes.buffer.byteLength);
    const strings = byteElementViews(packed);
    expect(Buffer.from(strings[998]).toString()).toBe('élément 998');
    expect(Array.from(strings[999])).toEqual([999 & 0xff, 0]);
  });

  it('cuts groups as views, and joins them back', () => {
    const packed = packBytes(elements);
    const groups = splitByteElements(packed, [2, 0, 3]);
    expect(groups.map((group) => group.count)).toEqual([2, 0, 3]);
    expect(groups.map(views)).toEqual([elements.slice(0, 2), [], elements.slice(2)]);
    expect(groups[2].bytes.buffer).toBe(packed.bytes.buffer);
    const joined = concatByteElements(groups);
    expect(Buffer.from(joined.bytes)).toEqual(Buffer.from(packed.bytes));
    expect(joined.count).toBe(5);
  });

  it('copies only what must own its buffer', () => {
    const packed = packBytes(elements);
    expect(ownedByteElements(packed)).toBe(packed);
    const part = splitByteElements(packed, [1, 2])[1];
    const owned = ownedByteElements(part);
    expect(owned.bytes.buffer).not.toBe(packed.bytes.buffer);
    expect(owned.bytes.byteLength).toBe(owned.bytes.buffer.byteLength);
    expect(views(owned)).toEqual(elements.slice(1, 3));
    const copy = copyTensorData(packed) as PackedBytes;
    copy.bytes[4 + 0 + 4] = 9;
    expect(packed.bytes[8]).toBe(0);
  });

  it('is told apart from typed arrays, and counts its elements', () => {
    expect(isPackedBytes(packBytes([]))).toBe(true);
    expect(isPackedBytes(new Uint8Array(4))).toBe(false);
    expect(storedElementCount(packBytes(elements))).toBe(5);
    expect(storedElementCount(new Float32Array(3))).toBe(3);
    const empties = allocateTensorData('BYTES', 3) as PackedBytes;
    expect(views(empties)).toEqual([Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)]);
  });
});
