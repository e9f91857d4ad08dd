/**
 * The example models the fuzzer aims at, and well-formed requests for them with the
 * answers they must get: the fuzzer's mutations start from these, and the good requests
 * interleaved with the malformed ones are checked against `expected`.
 */
import { fp16Bits, fp16Value } from '../../src/core/index.js';
import type { Random } from './random.js';

export type FuzzDatatype = 'INT32' | 'FP16' | 'INT64' | 'BYTES';

/** Tensor values: numbers, bigints (INT64) or byte strings (BYTES). */
export type Values = number[] | bigint[] | Buffer[];

export interface FuzzTensor {
  name: string;
  datatype: FuzzDatatype;
  shape: number[];
  values: Values;
}

export interface FuzzModel {
  name: string;
  inputs: Array<{ name: string; datatype: FuzzDatatype; dims: number[] }>;
  outputs: string[];
  maxBatchSize: number;
  compute(inputs: FuzzTensor[]): FuzzTensor[];
}

export const FUZZ_MODELS: readonly FuzzModel[] = [
  {
    name: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', dims: [16] },
      { name: 'INPUT1', datatype: 'INT32', dims: [16] },
    ],
    outputs: ['OUTPUT0', 'OUTPUT1'],
    maxBatchSize: 8,
    compute([a, b]) {
      const x = a!.values as number[];
      const y = b!.values as number[];
      return [
        { name: 'OUTPUT0', datatype: 'INT32', shape: a!.shape, values: x.map((v, i) => v + y[i]!) },
        { name: 'OUTPUT1', datatype: 'INT32', shape: a!.shape, values: x.map((v, i) => v - y[i]!) },
      ];
    },
  },
  ...(['FP16', 'INT64', 'BYTES'] as const).map(
    (datatype): FuzzModel => ({
      name: `identity_${datatype === 'BYTES' ? 'bytes' : datatype.toLowerCase()}`,
      inputs: [{ name: 'INPUT0', datatype, dims: [-1] }],
      outputs: ['OUTPUT0'],
      maxBatchSize: 8,
      compute: ([input]) => [{ ...input!, name: 'OUTPUT0' }],
    }),
  ),
];

export const FUZZ_MODEL_NAMES = FUZZ_MODELS.map((m) => m.name);

function randomValues(random: Random, datatype: FuzzDatatype, count: number, exactInJson: boolean): Values {
  const values = Array.from({ length: count }, () => random.uint32());
  switch (datatype) {
    case 'INT32':
      return values.map((v) => (v % 2001) - 1000);
    case 'FP16':
      // Quarters up to ±100 are exact in FP16, so the echo must match bit for bit.
      return values.map((v) => ((v % 801) - 400) / 4);
    case 'INT64':
      // Beyond 2^53 only where the values travel as bytes: JSON numbers would round them.
      return values.map((v) =>
        !exactInJson && random.chance(0.5) ? BigInt.asIntN(64, (BigInt(v) << 32n) | BigInt(random.uint32())) : BigInt((v % 20001) - 10000),
      );
    case 'BYTES':
      return values.map((v) => {
        const length = v % 12;
        const text = Array.from({ length }, () => String.fromCharCode(random.pick([0x61, 0x7a, 0x20, 0xe9, 0x4e2d, 0x31]) + random.int(3))).join('');
        return Buffer.from(text, 'utf8');
      });
  }
}

/** A well-formed request for a random model: batch size, variable dimensions and values drawn from `random`. */
export function goodRequest(random: Random, options: { exactInJson: boolean }): { model: FuzzModel; inputs: FuzzTensor[]; expected: FuzzTensor[] } {
  const model = random.pick(FUZZ_MODELS);
  const batch = random.between(1, Math.min(4, model.maxBatchSize));
  const variable = random.between(0, 6);
  const inputs = model.inputs.map((spec): FuzzTensor => {
    const shape = [batch, ...spec.dims.map((d) => (d === -1 ? variable : d))];
    const count = shape.reduce((a, b) => a * b, 1);
    return { name: spec.name, datatype: spec.datatype, shape, values: randomValues(random, spec.datatype, count, options.exactInJson) };
  });
  return { model, inputs, expected: model.compute(inputs) };
}

/** Values as the little-endian bytes of the binary tensor extension and of gRPC raw contents. */
export function valuesToBytes(datatype: FuzzDatatype, values: Values): Buffer {
  switch (datatype) {
    case 'INT32':
      return Buffer.from(Int32Array.from(values as number[]).buffer);
    case 'FP16':
      return Buffer.from(Uint16Array.from((values as number[]).map(fp16Bits)).buffer);
    case 'INT64':
      return Buffer.from(BigInt64Array.from(values as bigint[]).buffer);
    case 'BYTES':
      return Buffer.concat(
        (values as Buffer[]).flatMap((item) => {
          const length = Buffer.alloc(4);
          length.writeUInt32LE(item.length);
          return [length, item];
        }),
      );
  }
}

/** The inverse of valuesToBytes; throws when the bytes do not hold whole values. */
export function bytesToValues(datatype: FuzzDatatype, bytes: Buffer): Values {
  const copy = Buffer.from(bytes);
  switch (datatype) {
    case 'INT32':
      if (copy.length % 4 !== 0) throw new Error(`${copy.length} bytes are not whole INT32 values`);
      return Array.from(new Int32Array(copy.buffer, copy.byteOffset, copy.length / 4));
    case 'FP16':
      if (copy.length % 2 !== 0) throw new Error(`${copy.length} bytes are not whole FP16 values`);
      return Array.from(new Uint16Array(copy.buffer, copy.byteOffset, copy.length / 2)).map(fp16Value);
    case 'INT64':
      if (copy.length % 8 !== 0) throw new Error(`${copy.length} bytes are not whole INT64 values`);
      return Array.from(new BigInt64Array(copy.buffer, copy.byteOffset, copy.length / 8));
    case 'BYTES': {
      const items: Buffer[] = [];
      for (let offset = 0; offset < copy.length; ) {
        if (offset + 4 > copy.length) throw new Error('a BYTES element is cut short');
        const length = copy.readUInt32LE(offset);
        items.push(copy.subarray(offset + 4, offset + 4 + length));
        offset += 4 + length;
        if (offset > copy.length) throw new Error('a BYTES element is cut short');
      }
      return items;
    }
  }
}

/** Values as JSON `data` would hold them (BYTES as strings, INT64 as numbers). */
export function valuesToJson(datatype: FuzzDatatype, values: Values): unknown[] {
  if (datatype === 'BYTES') return (values as Buffer[]).map((b) => b.toString('utf8'));
  if (datatype === 'INT64') return (values as bigint[]).map((v) => Number(v));
  return values as number[];
}

/** A difference between an answer and the expected tensor, or undefined. */
export function compareTensor(expected: FuzzTensor, actual: { shape: number[]; values: Values }): string | undefined {
  if (JSON.stringify(actual.shape) !== JSON.stringify(expected.shape)) {
    return `${expected.name}: shape ${JSON.stringify(actual.shape)}, expected ${JSON.stringify(expected.shape)}`;
  }
  const show = (v: unknown) => (Buffer.isBuffer(v) ? `'${v.toString('utf8')}'` : String(v));
  if (actual.values.length !== expected.values.length) return `${expected.name}: ${actual.values.length} values, expected ${expected.values.length}`;
  for (let i = 0; i < expected.values.length; i++) {
    const a = actual.values[i];
    const e = expected.values[i];
    const same = Buffer.isBuffer(e) ? Buffer.isBuffer(a) && a.equals(e) : typeof e === 'bigint' ? BigInt(a as bigint) === e : a === e;
    if (!same) return `${expected.name}[${i}]: ${show(a)}, expected ${show(e)}`;
  }
  return undefined;
}
