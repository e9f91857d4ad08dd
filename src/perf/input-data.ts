/**
 * Input values for the generated requests, per input and per "step" (the data of
 * one batch-1 request), as perf_analyzer's `--input-data` chooses them: all zero,
 * random, or read from JSON files in perf_analyzer's format:
 *
 *   {"data": [{"INPUT0": [1, 2, 3], "INPUT1": {"content": [..], "shape": [3]}}, …]}
 *
 * `data` may also be a list of streams (a list of such lists); their steps are used
 * in order. A value is a flat or nested list, `{"content": …, "shape": …}` or
 * `{"b64": …}` (the tensor's raw little-endian bytes).
 */
import { readFileSync } from 'node:fs';
import { byteSize, elementCount, InferenceError, type Datatype } from '../core/index.js';
import type { TensorInfo } from './model-info.js';

export type TensorValues = number[] | boolean[] | string[];

export interface StepTensor {
  /** Without the batch dimension. */
  shape: number[];
  values: TensorValues;
}

export type DataStep = Record<string, StepTensor>;

/** Steps of generated random data: enough variety that no layer can cache one answer. */
const RANDOM_STEPS = 16;

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

/** The input's dims with each -1 taken from --shape; fails when a variable dimension has no shape. */
export function resolveShape(input: TensorInfo, shapes: Readonly<Record<string, number[]>>): number[] {
  const given = shapes[input.name];
  if (given) {
    if (given.length !== input.dims.length || given.some((d, i) => input.dims[i] !== -1 && input.dims[i] !== d)) {
      throw invalid(`--shape ${input.name}:${given.join(',')} does not fit the model's dims [${input.dims.join(',')}] (give the shape without the batch dimension)`);
    }
    return [...given];
  }
  if (input.dims.includes(-1)) {
    throw invalid(`input '${input.name}' has a variable dimension (dims [${input.dims.join(',')}]); give its shape with --shape ${input.name}:<d1,d2,…>`);
  }
  return [...input.dims];
}

/** A small deterministic generator (mulberry32), so that two runs send the same "random" data. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function generatedValues(datatype: Datatype, count: number, random: (() => number) | undefined, text: { length: number; data: string | undefined }): TensorValues {
  if (datatype === 'BYTES') {
    return Array.from({ length: count }, () => {
      if (text.data !== undefined) return text.data;
      if (!random) return '';
      let s = '';
      for (let i = 0; i < text.length; i++) s += ALPHABET[Math.floor(random() * ALPHABET.length)];
      return s;
    });
  }
  if (datatype === 'BOOL') return Array.from({ length: count }, () => (random ? random() < 0.5 : false));
  if (!random) return new Array<number>(count).fill(0);
  // Small values: exact in every type (FP16 and INT8 included) and short as JSON text.
  if (datatype.startsWith('FP') || datatype === 'BF16') return Array.from({ length: count }, () => Math.round(random() * 1000) / 1000);
  return Array.from({ length: count }, () => Math.floor(random() * 100));
}

/** `zero` or `random` data: one step for zeros, a few distinct ones for random. */
export function generatedSteps(
  inputs: readonly TensorInfo[],
  shapes: Readonly<Record<string, number[]>>,
  kind: 'zero' | 'random',
  text: { length: number; data: string | undefined },
): DataStep[] {
  const random = kind === 'random' ? seededRandom(0x6e657265) : undefined;
  const stepCount = kind === 'random' ? RANDOM_STEPS : 1;
  const resolved = inputs.map((input) => ({ input, shape: resolveShape(input, shapes) }));
  return Array.from({ length: stepCount }, () => {
    const step: DataStep = {};
    for (const { input, shape } of resolved) step[input.name] = { shape, values: generatedValues(input.datatype, elementCount(shape), random, text) };
    return step;
  });
}

function flatten(value: unknown, out: unknown[]): void {
  if (Array.isArray(value)) for (const v of value) flatten(v, out);
  else out.push(value);
}

function decodeBase64(datatype: Datatype, b64: string, where: string): TensorValues {
  if (datatype === 'BYTES') throw invalid(`${where}: 'b64' data is not supported for BYTES inputs; give the strings as a list`);
  const bytes = Buffer.from(b64, 'base64');
  const size = byteSize(datatype);
  if (bytes.length % size !== 0) throw invalid(`${where}: ${bytes.length} bytes of 'b64' data is not a whole number of ${datatype} elements`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: number[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) {
    switch (datatype) {
      case 'BOOL':
      case 'UINT8': values.push(view.getUint8(offset)); break;
      case 'INT8': values.push(view.getInt8(offset)); break;
      case 'UINT16': values.push(view.getUint16(offset, true)); break;
      case 'INT16': values.push(view.getInt16(offset, true)); break;
      case 'UINT32': values.push(view.getUint32(offset, true)); break;
      case 'INT32': values.push(view.getInt32(offset, true)); break;
      case 'UINT64': values.push(Number(view.getBigUint64(offset, true))); break;
      case 'INT64': values.push(Number(view.getBigInt64(offset, true))); break;
      case 'FP32': values.push(view.getFloat32(offset, true)); break;
      case 'FP64': values.push(view.getFloat64(offset, true)); break;
      default: throw invalid(`${where}: 'b64' data is not supported for ${datatype} inputs; give the values as a list`);
    }
  }
  return datatype === 'BOOL' ? values.map((v) => v !== 0) : values;
}

function checkedValues(datatype: Datatype, raw: unknown[], where: string): TensorValues {
  const expected = datatype === 'BYTES' ? 'string' : datatype === 'BOOL' ? 'boolean' : 'number';
  raw.forEach((value, i) => {
    const ok = typeof value === expected || (datatype === 'BOOL' && (value === 0 || value === 1));
    if (!ok) throw invalid(`${where}: value ${JSON.stringify(value)} at position ${i} is not a ${expected} as ${datatype} requires`);
  });
  return (datatype === 'BOOL' ? raw.map((v) => v === true || v === 1) : raw) as TensorValues;
}

function stepTensor(input: TensorInfo, value: unknown, shapes: Readonly<Record<string, number[]>>, where: string): StepTensor {
  let raw: TensorValues;
  let shape: number[] | undefined;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if (record.shape !== undefined) {
      if (!Array.isArray(record.shape) || !record.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw invalid(`${where}: 'shape' must be a list of non-negative integers`);
      }
      shape = record.shape as number[];
    }
    if (typeof record.b64 === 'string') raw = decodeBase64(input.datatype, record.b64, where);
    else if (record.content !== undefined) {
      const flat: unknown[] = [];
      flatten(record.content, flat);
      raw = checkedValues(input.datatype, flat, where);
    } else throw invalid(`${where}: expected a list, {"content": …} or {"b64": …}`);
  } else if (Array.isArray(value)) {
    const flat: unknown[] = [];
    flatten(value, flat);
    raw = checkedValues(input.datatype, flat, where);
  } else {
    throw invalid(`${where}: expected a list, {"content": …} or {"b64": …}, got ${JSON.stringify(value)}`);
  }
  if (shape) {
    if (shape.length !== input.dims.length || shape.some((d, i) => input.dims[i] !== -1 && input.dims[i] !== d)) {
      throw invalid(`${where}: shape [${shape.join(',')}] does not fit the model's dims [${input.dims.join(',')}] (give it without the batch dimension)`);
    }
  } else if (input.dims.includes(-1) && !shapes[input.name] && input.dims.length === 1) {
    // A one-dimensional variable input takes its length from the data, as perf_analyzer does.
    shape = [raw.length];
  } else {
    shape = resolveShape(input, shapes);
  }
  if (elementCount(shape) !== raw.length) {
    throw invalid(`${where}: ${raw.length} values do not fill shape [${shape.join(',')}] (${elementCount(shape)} expected)`);
  }
  return { shape, values: raw };
}

/** Reads perf_analyzer JSON files; every step must give every non-optional input. */
export function fileSteps(paths: readonly string[], inputs: readonly TensorInfo[], shapes: Readonly<Record<string, number[]>>): DataStep[] {
  const steps: DataStep[] = [];
  for (const path of paths) {
    let document: unknown;
    try {
      document = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw invalid(`--input-data ${path}: ${(err as Error).message}`);
    }
    const data = (document as { data?: unknown } | null)?.data;
    if (!Array.isArray(data) || data.length === 0) throw invalid(`--input-data ${path}: expected {"data": [ … ]} with at least one entry`);
    const streams = data.every(Array.isArray) ? (data as unknown[][]) : [data];
    streams.forEach((stream, s) => {
      stream.forEach((entry, i) => {
        const where = streams.length > 1 ? `${path}: data[${s}][${i}]` : `${path}: data[${i}]`;
        if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw invalid(`${where}: expected an object of input values`);
        const record = entry as Record<string, unknown>;
        const step: DataStep = {};
        for (const input of inputs) {
          if (record[input.name] === undefined) {
            if (input.optional) continue;
            throw invalid(`${where}: no value for input '${input.name}'`);
          }
          step[input.name] = stepTensor(input, record[input.name], shapes, `${where}: input '${input.name}'`);
        }
        for (const name of Object.keys(record)) {
          if (!inputs.some((input) => input.name === name)) throw invalid(`${where}: the model has no input '${name}'`);
        }
        steps.push(step);
      });
    });
  }
  return steps;
}
