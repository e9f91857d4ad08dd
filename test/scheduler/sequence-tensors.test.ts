/** Control tensors and the stacking of implicit states along any axis. */
import { describe, expect, it } from 'vitest';
import { byteElementStrings, type PackedBytes } from '../../src/core/index.js';
import type { SequenceControl, SequenceStateSpec } from '../../src/repository/sequence-batching.js';
import { controlTensor, stackStates, unstackState } from '../../src/scheduler/sequence-tensors.js';

const rows = [
  { start: true, end: false, id: 7 },
  { start: false, end: true, id: 12345678901 },
];

function control(kind: SequenceControl['kind'], datatype: SequenceControl['datatype'], falseTrue: [number, number] = [0, 1]): SequenceControl {
  return { inputName: kind, kind, datatype, falseTrue };
}

describe('controlTensor', () => {
  it('writes START, END and READY with their false/true values, one row per request', () => {
    expect(controlTensor(control('CONTROL_SEQUENCE_START', 'FP32', [-1, 0.5]), rows, true)).toMatchObject({ shape: [2, 1], data: Float32Array.from([0.5, -1]) });
    expect(controlTensor(control('CONTROL_SEQUENCE_END', 'INT32', [10, 20]), rows, true).data).toEqual(Int32Array.from([10, 20]));
    expect(controlTensor(control('CONTROL_SEQUENCE_READY', 'BOOL'), rows, true).data).toEqual(Uint8Array.from([1, 1]));
    expect(controlTensor(control('CONTROL_SEQUENCE_START', 'INT32'), rows.slice(0, 1), false).shape).toEqual([1]);
  });

  it('writes the correlation id in the CORRID type: 64-bit exactly, strings in decimal', () => {
    expect(controlTensor(control('CONTROL_SEQUENCE_CORRID', 'UINT64'), rows, true).data).toEqual(BigUint64Array.from([7n, 12345678901n]));
    expect(controlTensor(control('CONTROL_SEQUENCE_CORRID', 'INT32'), rows.slice(0, 1), true).data).toEqual(Int32Array.from([7]));
    const strings = controlTensor(control('CONTROL_SEQUENCE_CORRID', 'BYTES'), [...rows, { start: false, end: false, id: 'abc' }], true);
    expect(byteElementStrings(strings.data as PackedBytes)).toEqual(['7', '12345678901', 'abc']);
  });
});

describe('stackStates / unstackState', () => {
  const spec = (batchAxis: number, shape: number[]): SequenceStateSpec => ({
    inputName: 'h',
    outputName: 'hn',
    datatype: 'FP32',
    shape,
    batchAxis,
    initial: new Float32Array(shape.reduce((n, d) => n * d, 1)),
  });
  const state = (values: number[], shape: number[]) => ({ name: 'h', datatype: 'FP32' as const, shape, data: Float32Array.from(values) });

  it('stacks [2, 1, 3] states along the middle axis into [2, rows, 3] and cuts them back', () => {
    const s = spec(1, [2, 1, 3]);
    const a = state([1, 2, 3, 4, 5, 6], [2, 1, 3]);
    const b = state([10, 20, 30, 40, 50, 60], [2, 1, 3]);
    const stacked = stackStates(s, [a, b]);
    expect(stacked.shape).toEqual([2, 2, 3]);
    expect(Array.from(stacked.data as Float32Array)).toEqual([1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60]);
    expect(unstackState(s, stacked, 0)).toMatchObject({ shape: [2, 1, 3], data: a.data });
    expect(unstackState(s, stacked, 1)).toMatchObject({ shape: [2, 1, 3], data: b.data });
  });

  it('stacks along the first and the last axis too', () => {
    const first = spec(0, [1, 2]);
    const stackedFirst = stackStates(first, [state([1, 2], [1, 2]), state([3, 4], [1, 2]), state([5, 6], [1, 2])]);
    expect(stackedFirst).toMatchObject({ shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(unstackState(first, stackedFirst, 2).data).toEqual(Float32Array.from([5, 6]));
    const last = spec(1, [2, 1]);
    const stackedLast = stackStates(last, [state([1, 2], [2, 1]), state([3, 4], [2, 1])]);
    expect(stackedLast).toMatchObject({ shape: [2, 2], data: Float32Array.from([1, 3, 2, 4]) });
    expect(unstackState(last, stackedLast, 1).data).toEqual(Float32Array.from([3, 4]));
  });

  it('copies: a state cut from a batch does not change when the batch buffer does', () => {
    const s = spec(0, [1, 2]);
    const batch = state([1, 2, 3, 4], [2, 2]);
    const cut = unstackState(s, batch, 1);
    (batch.data as Float32Array).fill(0);
    expect(cut.data).toEqual(Float32Array.from([3, 4]));
  });
});
