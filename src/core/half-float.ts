/**
 * IEEE half (FP16) and bfloat16 bit patterns to and from JS numbers.
 *
 * Encoding rounds the double straight to the 16-bit format, to nearest with ties to
 * even. Going through a float32 first (the usual shortcut) rounds twice and is off by
 * one unit for values just above a tie, so JSON inputs would not convert exactly.
 * Decoding is exact: every 16-bit value is a double.
 */

const f64 = new Float64Array(1);
const f64High = new Uint32Array(f64.buffer, 4, 1);

function roundHalfEven(q: number): number {
  const floor = Math.floor(q);
  const rest = q - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor + (floor % 2);
}

/**
 * A binary format with `mantissaBits` stored mantissa bits and an exponent field of
 * `exponentBits` bits (bias 2^(exponentBits-1) - 1), as used by FP16 and BF16.
 */
function encodeMinifloat(value: number, mantissaBits: number, exponentBits: number): number {
  const bias = (1 << (exponentBits - 1)) - 1;
  const exponentField = (1 << exponentBits) - 1;
  const infinity = exponentField << mantissaBits;
  const signBit = 1 << (mantissaBits + exponentBits);
  if (Number.isNaN(value)) return infinity | (1 << (mantissaBits - 1));
  const sign = value < 0 || Object.is(value, -0) ? signBit : 0;
  const magnitude = Math.abs(value);
  const minNormalExponent = 1 - bias;
  if (magnitude < 2 ** minNormalExponent) {
    // Subnormal: an integer count of the smallest step; rounding up to 2^mantissaBits
    // yields the smallest normal number, whose bits follow on directly.
    return sign | roundHalfEven(magnitude * 2 ** (mantissaBits - minNormalExponent));
  }
  if (magnitude === Infinity) return sign | infinity;
  f64[0] = magnitude;
  let exponent = ((f64High[0] >>> 20) & 0x7ff) - 1023;
  // Scaling by a power of two is exact, so the mantissa rounds once.
  let mantissa = roundHalfEven(magnitude * 2 ** (mantissaBits - exponent));
  if (mantissa === 2 ** (mantissaBits + 1)) {
    mantissa /= 2;
    exponent += 1;
  }
  if (exponent > bias) return sign | infinity;
  return sign | ((exponent + bias) << mantissaBits) | (mantissa - 2 ** mantissaBits);
}

export function fp16Bits(value: number): number {
  return encodeMinifloat(value, 10, 5);
}

export function fp16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function bf16Bits(value: number): number {
  return encodeMinifloat(value, 7, 8);
}

export function bf16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 7) & 0xff;
  const mantissa = bits & 0x7f;
  if (exponent === 0) return sign * mantissa * 2 ** -133;
  if (exponent === 0xff) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 128) * 2 ** (exponent - 127);
}

/** True when a finite value is too large for the format and would become infinite. */
export function overflowsFp16(value: number): boolean {
  return Number.isFinite(value) && (fp16Bits(value) & 0x7fff) === 0x7c00;
}

export function overflowsBf16(value: number): boolean {
  return Number.isFinite(value) && (bf16Bits(value) & 0x7fff) === 0x7f80;
}
