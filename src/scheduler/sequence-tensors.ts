/**
 * The tensors the sequence batcher adds to a batch: control inputs (one row per
 * request) and implicit states, stacked along each state's batch axis on the way in and
 * cut back into one state per sequence on the way out.
 */
import {
  allocateTensorData,
  byteElementViews,
  elementCount,
  isPackedBytes,
  packBytes,
  type Datatype,
  type NumericArray,
  type Tensor,
  type TensorData,
} from '../core/index.js';
import type { SequenceControl, SequenceStateSpec } from '../repository/sequence-batching.js';
import type { SequenceId } from './sequence-parameters.js';

/** What the control inputs say about one row of a batch. */
export interface ControlRow {
  start: boolean;
  end: boolean;
  id: SequenceId;
}

const utf8 = new TextEncoder();

/** Elements that can be moved one by one: a typed array, or BYTES elements as views (states are small). */
type Elements = NumericArray | Uint8Array[];

const elementsOf = (data: TensorData): Elements => (isPackedBytes(data) ? byteElementViews(data) : data);
const storageOf = (elements: Elements): TensorData => (Array.isArray(elements) ? packBytes(elements) : elements);
const allocateElements = (datatype: Datatype, length: number): Elements =>
  datatype === 'BYTES' ? new Array<Uint8Array>(length) : (allocateTensorData(datatype, length) as NumericArray);

/** One control input for `rows`, shaped [rows, 1] for a batching model and [1] otherwise. */
export function controlTensor(control: SequenceControl, rows: readonly ControlRow[], batching: boolean): Tensor {
  const shape = batching ? [rows.length, 1] : [1];
  const data = allocateElements(control.datatype, rows.length);
  rows.forEach((row, i) => {
    switch (control.kind) {
      case 'CONTROL_SEQUENCE_CORRID':
        if (Array.isArray(data)) data[i] = utf8.encode(String(row.id));
        else if (data instanceof BigUint64Array || data instanceof BigInt64Array) data[i] = BigInt(row.id);
        else data[i] = Number(row.id);
        return;
      case 'CONTROL_SEQUENCE_START':
        (data as Float32Array)[i] = control.falseTrue[row.start ? 1 : 0];
        return;
      case 'CONTROL_SEQUENCE_END':
        (data as Float32Array)[i] = control.falseTrue[row.end ? 1 : 0];
        return;
      case 'CONTROL_SEQUENCE_READY':
        (data as Float32Array)[i] = control.falseTrue[1];
        return;
    }
  });
  return { name: control.inputName, datatype: control.datatype, shape, data: storageOf(data) };
}

function copyInto(target: Elements, targetOffset: number, source: Elements, from: number, length: number): void {
  if (Array.isArray(target)) {
    for (let i = 0; i < length; i++) target[targetOffset + i] = (source as Uint8Array[])[from + i];
  } else {
    (target as Float32Array).set((source as Float32Array).subarray(from, from + length), targetOffset);
  }
}

/**
 * States of several sequences (each with a 1 at `axis`) stacked along `axis`: for
 * [2, batch, 64], each sequence's two blocks of 64 go to their own row of both halves.
 */
export function stackStates(spec: SequenceStateSpec, states: readonly Tensor[]): Tensor {
  const [first] = states;
  const { batchAxis: axis } = spec;
  const shape = [...first.shape];
  shape[axis] = states.length;
  const outer = elementCount(first.shape.slice(0, axis));
  const inner = elementCount(first.shape.slice(axis + 1));
  const data = allocateElements(spec.datatype, elementCount(shape));
  states.forEach((state, row) => {
    const source = elementsOf(state.data);
    for (let o = 0; o < outer; o++) copyInto(data, (o * states.length + row) * inner, source, o * inner, inner);
  });
  return { name: spec.inputName, datatype: spec.datatype, shape, data: storageOf(data) };
}

/** Row `row` of a batch's state output, as one sequence's state (a copy: it outlives the batch's buffers). */
export function unstackState(spec: SequenceStateSpec, output: Tensor, row: number): Tensor {
  const { batchAxis: axis } = spec;
  const rows = output.shape[axis];
  const shape = [...output.shape];
  shape[axis] = 1;
  const outer = elementCount(output.shape.slice(0, axis));
  const inner = elementCount(output.shape.slice(axis + 1));
  const data = allocateElements(spec.datatype, outer * inner);
  const source = elementsOf(output.data);
  for (let o = 0; o < outer; o++) copyInto(data, o * inner, source, (o * rows + row) * inner, inner);
  return { name: spec.inputName, datatype: spec.datatype, shape, data: storageOf(data) };
}

/** A sequence's state before its first request. */
export function initialState(spec: SequenceStateSpec): Tensor {
  return { name: spec.inputName, datatype: spec.datatype, shape: spec.shape, data: spec.initial };
}
