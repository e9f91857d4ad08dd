/**
 * A reader of protobuf wire bytes for the messages the gRPC frontend reads field by field
 * (infer-wire.ts, bytes-contents.ts): varints, length-delimited spans and skipping of
 * unknown fields, every read checked against the end of its message.
 */
export const VARINT = 0;
export const FIXED64 = 1;
export const LENGTH_DELIMITED = 2;
export const FIXED32 = 5;

/** A malformed message; the codec's callers turn it into INVALID_ARG. */
export class WireError extends Error {}

export class WireReader {
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
    this.readVarint64();
    return (this.high | 0) * 0x100000000 + this.low;
  }

  /** A 64-bit varint as its low and high 32 bits (unsigned). */
  varint64Bits(): [number, number] {
    this.readVarint64();
    return [this.low, this.high];
  }

  /** The last 64-bit varint read, as unsigned 32-bit halves (fields, so that reading one allocates nothing). */
  private low = 0;
  private high = 0;

  private readVarint64(): void {
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
      if (byte < 0x80) {
        this.low = lo >>> 0;
        this.high = hi >>> 0;
        return;
      }
    }
    throw new WireError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  double(): number {
    this.advance(8);
    return this.buf.readDoubleLE(this.pos - 8);
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
