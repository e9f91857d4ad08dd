/** bytes_contents read from a ModelInferRequest's wire bytes, against what protobufjs decodes from the same bytes. */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { byteElementViews, type PackedBytes } from '../../src/core/index.js';
import { messageType } from '../../src/server/grpc/grpc-messages.js';
import { parseModelInferRequest } from '../../src/server/grpc/infer-codec.js';

const requestType = () => messageType('ModelInferRequest');
const encode = (request: object) => requestType().encode(requestType().fromObject(request)).finish();
const elementsOf = (packed: PackedBytes | undefined) => (packed ? byteElementViews(packed).map((view) => Buffer.from(view)) : undefined);
/** What protobufjs itself makes of the bytes_contents of input `k`. */
const protobufjsElements = (bytes: Uint8Array, k: number) =>
  ((requestType().decode(bytes) as unknown as { inputs: Array<{ contents?: { bytes_contents: Uint8Array[] } }> }).inputs[k].contents?.bytes_contents ?? []).map((b) =>
    Buffer.from(b),
  );

const LONG = Buffer.from(Array.from({ length: 100 }, (_, i) => 255 - i));

/** The packed bytes_contents of each input, as the frontend's reader leaves them (undefined: the input has no contents). */
const packedOf = (bytes: Uint8Array) => parseModelInferRequest(bytes).inputs.map((input) => input.contents?.bytes_contents);

describe('bytes_contents packed by the ModelInferRequest reader', () => {
  it('packs each input’s elements under its position, skipping inputs and fields that carry none', () => {
    const bytes = encode({
      model_name: 'm',
      parameters: { p: { string_param: 'v' } },
      inputs: [
        { name: 'A', datatype: 'BYTES', shape: [3], contents: { bytes_contents: [Buffer.from('a'), Buffer.alloc(0), Buffer.from([0, 0xff])] } },
        { name: 'B', datatype: 'FP32', shape: [1] },
        { name: 'C', datatype: 'INT32', shape: [2], contents: { int_contents: [7, -7] } },
        { name: 'D', datatype: 'BYTES', shape: [2], parameters: { q: { int64_param: 5 } }, contents: { bytes_contents: [LONG, Buffer.from('x')] } },
      ],
      outputs: [{ name: 'OUT' }],
      raw_input_contents: [Buffer.from([1, 2, 3, 4])],
    });
    const found = packedOf(bytes);
    expect(found.map((packed) => packed?.count)).toEqual([3, undefined, 0, 2]);
    expect(elementsOf(found[0])).toEqual(protobufjsElements(bytes, 0));
    expect(elementsOf(found[3])).toEqual([LONG, Buffer.from('x')]);
    expect(found[3]!.bytes.byteLength).toBe(4 + 100 + 4 + 1);
  });

  it('skips unknown fields of every wire type inside the input and its contents', () => {
    const contents = protobuf.Writer.create()
      .uint32((99 << 3) | 0).uint64(2 ** 40)
      .uint32((8 << 3) | 2).bytes(Buffer.from('one'))
      .uint32((98 << 3) | 1).fixed64(1)
      .uint32((97 << 3) | 5).fixed32(1)
      .uint32((8 << 3) | 2).bytes(Buffer.alloc(0))
      .finish();
    const input = protobuf.Writer.create().uint32((1 << 3) | 2).string('S').uint32((96 << 3) | 2).bytes(Buffer.from('unknown')).uint32((5 << 3) | 2).bytes(contents).finish();
    const bytes = protobuf.Writer.create().uint32((95 << 3) | 0).uint32(3).uint32((5 << 3) | 2).bytes(input).uint32((1 << 3) | 2).string('m').finish();
    expect(elementsOf(packedOf(bytes)[0])).toEqual([Buffer.from('one'), Buffer.alloc(0)]);
    expect(protobufjsElements(bytes, 0)).toEqual([Buffer.from('one'), Buffer.alloc(0)]);
  });

  it('takes the last contents of an input given twice, as protobufjs does', () => {
    const first = protobuf.Writer.create().uint32((8 << 3) | 2).bytes(Buffer.from('old')).finish();
    const second = protobuf.Writer.create().uint32((8 << 3) | 2).bytes(Buffer.from('new')).uint32((8 << 3) | 2).bytes(Buffer.from('!')).finish();
    const input = protobuf.Writer.create().uint32((5 << 3) | 2).bytes(first).uint32((5 << 3) | 2).bytes(second).finish();
    const bytes = protobuf.Writer.create().uint32((5 << 3) | 2).bytes(input).finish();
    expect(elementsOf(packedOf(bytes)[0])).toEqual(protobufjsElements(bytes, 0));
    expect(elementsOf(packedOf(bytes)[0])).toEqual([Buffer.from('new'), Buffer.from('!')]);
  });
});

describe('parseModelInferRequest', () => {
  it('decodes everything else with protobufjs and puts the packed elements in bytes_contents', () => {
    const bytes = encode({
      model_name: 'm',
      id: 'r1',
      inputs: [
        { name: 'S', datatype: 'BYTES', shape: [2], contents: { bytes_contents: [Buffer.from('a\0b'), Buffer.from([0xc3])] } },
        { name: 'I', datatype: 'INT32', shape: [2], contents: { int_contents: [1, 2] } },
      ],
    });
    const message = parseModelInferRequest(bytes);
    expect(message.model_name).toBe('m');
    expect(message.id).toBe('r1');
    expect(elementsOf(message.inputs[0].contents!.bytes_contents)).toEqual([Buffer.from('a\0b'), Buffer.from([0xc3])]);
    expect(message.inputs[1].contents!.int_contents).toEqual([1, 2]);
    expect(message.inputs[1].contents!.bytes_contents.count).toBe(0);
    // The elements are a copy, not a view on the received message.
    expect(message.inputs[0].contents!.bytes_contents.bytes.buffer).not.toBe(bytes.buffer);
  });
});
