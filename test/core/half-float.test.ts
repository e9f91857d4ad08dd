import { describe, expect, it } from 'vitest';
import { bf16Bits, bf16Value, fp16Bits, fp16Value, overflowsBf16, overflowsFp16 } from '../../src/core/index.js';

/** The double just above `x` (x > 0, finite). */
function nextUp(x: number): number {
  const f = new Float64Array([x]);
  const u = new BigUint64Array(f.buffer);
  u[0] += 1n;
  return f[0];
}

function nextDown(x: number): number {
  const f = new Float64Array([x]);
  const u = new BigUint64Array(f.buffer);
  u[0] -= 1n;
  return f[0];
}

const formats = [
  { name: 'FP16', bits: fp16Bits, value: fp16Value, maxFinite: 0x7bff, infinity: 0x7c00 },
  { name: 'BF16', bits: bf16Bits, value: bf16Value, maxFinite: 0x7f7f, infinity: 0x7f80 },
];

describe.each(formats)('$name', ({ bits, value, maxFinite, infinity }) => {
  it('round-trips every non-NaN bit pattern exactly', () => {
    const wrong: number[] = [];
    for (let b = 0; b < 0x10000; b++) {
      const v = value(b);
      if (!Number.isNaN(v) && bits(v) !== b) wrong.push(b);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds to nearest, ties to even, deciding once from the double', () => {
    // Positive finite patterns in order: each pair of neighbours has an exact midpoint.
    const wrong: number[] = [];
    for (let b = 0; b < maxFinite; b++) {
      const mid = (value(b) + value(b + 1)) / 2;
      const ok =
        bits(mid) === (b % 2 === 0 ? b : b + 1) &&
        bits(nextUp(mid)) === b + 1 &&
        bits(nextDown(mid)) === b &&
        bits(-nextUp(mid)) === (0x8000 | (b + 1));
      if (!ok) wrong.push(b);
    }
    expect(wrong).toEqual([]);
  });

  it('keeps signed zero, infinities and NaN', () => {
    expect(bits(0)).toBe(0);
    expect(bits(-0)).toBe(0x8000);
    expect(bits(Infinity)).toBe(infinity);
    expect(bits(-Infinity)).toBe(0x8000 | infinity);
    expect(Number.isNaN(value(bits(NaN)))).toBe(true);
  });

  it('overflows to infinity from half a unit above the largest finite value', () => {
    const max = value(maxFinite);
    const halfUnitAbove = max + (max - value(maxFinite - 1)) / 2;
    expect(bits(nextDown(halfUnitAbove))).toBe(maxFinite);
    expect(bits(halfUnitAbove)).toBe(infinity);
  });
});

describe('overflow checks', () => {
  it('tell finite values that would become infinite', () => {
    expect(overflowsFp16(65504)).toBe(false);
    expect(overflowsFp16(65520)).toBe(true);
    expect(overflowsFp16(-1e6)).toBe(true);
    expect(overflowsFp16(Infinity)).toBe(false);
    expect(overflowsBf16(3e38)).toBe(false);
    expect(overflowsBf16(3.4e38)).toBe(true);
  });

  it('a float32 detour would round twice: the direct conversion does not', () => {
    // 1 + 2^-11 + 2^-40: just above the tie between 1 and 1 + 2^-10. Through float32 the
    // 2^-40 is lost, the tie goes to even (1.0); rounding the double directly goes up.
    expect(fp16Bits(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
    expect(bf16Bits(1 + 2 ** -8 + 2 ** -40)).toBe(0x3f81);
  });
});
