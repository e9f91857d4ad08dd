import { describe, expect, it } from 'vitest';
import { packBytes, type Tensor } from '../../src/core/index.js';
import type { ExecutionBatch, ExecutionResult, ModelSignature } from '../../src/backends/backend.js';
import { PACK_MAX_BYTES, packExecute, packResult, unpackExecute, unpackResult } from '../../src/backends/packed-messages.js';

const signature: ModelSignature = {
  inputs: [
    { name: 'A', datatype: 'FP32', nativeType: 'float32', shape: [-1, 4] },
    { name: 'B', datatype: 'INT64', nativeType: 'int64', shape: [-1, 3] },
    { name: 'C', datatype: 'BOOL', nativeType: 'bool', shape: [-1, 5] },
    { name: 'D', datatype: 'FP16', nativeType: 'float16', shape: [-1] },
    { name: 'S', datatype: 'BYTES', nativeType: 'string', shape: [-1] },
  ],
  outputs: [
    { name: 'X', datatype: 'FP64', nativeType: 'float64', shape: [-1, 2] },
    { name: 'Y', datatype: 'INT8', nativeType: 'int8', shape: [-1] },
  ],
};

/** A view that does not start at its buffer's beginning, as a batch's rows or a decoded body may be. */
function offsetView(values: number[]): Float32Array {
  const whole = new Float32Array(values.length + 3);
  whole.set(values, 3);
  return whole.subarray(3);
}

describe('packed execute command', () => {
  it('leaves to the object form a batch with fields of its own and a tensor whose data does not hold its shape (a device placeholder)', () => {
    const plain: ExecutionBatch = { inputs: [{ name: 'A', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) }], outputNames: ['X'], requests: [] };
    expect(packExecute(1, plain, signature)).toBeDefined();
    expect(packExecute(2, { ...plain, deviceOutputs: [] } as ExecutionBatch, signature)).toBeUndefined();
    const placeholder: ExecutionBatch = { inputs: [{ name: 'A', datatype: 'FP32', shape: [2, 4], data: new Float32Array(0) }], outputNames: ['X'], requests: [] };
    expect(packExecute(3, placeholder, signature)).toBeUndefined();
  });

  it('carries every fixed-size datatype, shape, output name and the cancellation flags', () => {
    const flags = new Int32Array(new SharedArrayBuffer(16)).subarray(1, 3);
    const batch: ExecutionBatch = {
      inputs: [
        { name: 'B', datatype: 'INT64', shape: [2, 3], data: new BigInt64Array([1n, -2n, 3n, 2n ** 62n, 5n, -(2n ** 63n)]) },
        { name: 'A', datatype: 'FP32', shape: [1, 4], data: offsetView([0.5, -1.25, 3, 1e-7]) },
        { name: 'C', datatype: 'BOOL', shape: [1, 5], data: new Uint8Array([1, 0, 0, 1, 1]) },
        { name: 'D', datatype: 'FP16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7c00]) },
      ],
      outputNames: ['Y', 'X'],
      requests: [],
      cancelled: flags,
    };
    const packed = packExecute(41, batch, signature)!;
    expect(packed).toBeDefined();
    const [buffer, sentFlags] = packed.message;
    // The worker receives a copy: structuredClone stands in for postMessage.
    const { id, batch: received } = unpackExecute(structuredClone(packed.message, { transfer: packed.transfer }), signature);
    expect(id).toBe(41);
    expect(buffer.byteLength % 8).toBe(0);
    expect(sentFlags).toBe(flags);
    expect(received.outputNames).toEqual(['Y', 'X']);
    expect(received.requests).toEqual([]);
    // The same shared memory: the main thread's flag is seen by the worker.
    Atomics.store(flags, 1, 1);
    expect([...received.cancelled!]).toEqual([0, 1]);
    expect(received.inputs.map((t) => [t.name, t.datatype, t.shape])).toEqual(batch.inputs.map((t) => [t.name, t.datatype, t.shape]));
    for (let k = 0; k < batch.inputs.length; k++) {
      expect(received.inputs[k].data.constructor).toBe(batch.inputs[k].data.constructor);
      expect([...(received.inputs[k].data as Float32Array)]).toEqual([...(batch.inputs[k].data as Float32Array)]);
    }
  });

  it('leaves a batch without cancellation flags without them', () => {
    const batch: ExecutionBatch = { inputs: [{ name: 'A', datatype: 'FP32', shape: [0, 4], data: new Float32Array(0) }], outputNames: ['X'], requests: [] };
    const packed = packExecute(0, batch, signature)!;
    expect(packed.message).toHaveLength(1);
    const { batch: received } = unpackExecute(packed.message, signature);
    expect(received.cancelled).toBeUndefined();
    expect(received.inputs[0].shape).toEqual([0, 4]);
    expect(received.inputs[0].data).toHaveLength(0);
  });

  it('is not used where the object form is needed', () => {
    const a: Tensor = { name: 'A', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) };
    const plain = (inputs: Tensor[], outputNames = ['X']): ExecutionBatch => ({ inputs, outputNames, requests: [] });
    // BYTES elements have no fixed size.
    expect(packExecute(0, plain([a, { name: 'S', datatype: 'BYTES', shape: [1], data: packBytes(['x']) }]), signature)).toBeUndefined();
    // A name the signature does not have (the backend answers it with its own error).
    expect(packExecute(0, plain([{ ...a, name: 'nope' }]), signature)).toBeUndefined();
    expect(packExecute(0, plain([a], ['nope']), signature)).toBeUndefined();
    // Per-request parts (a backend that answers request by request).
    expect(packExecute(0, { ...plain([a]), requests: [{ rows: 1, outputNames: ['X'] }] }, signature)).toBeUndefined();
    // Large batches are transferred as they are.
    const large = PACK_MAX_BYTES / 4 + 4;
    expect(packExecute(0, plain([{ ...a, shape: [large / 4, 4], data: new Float32Array(large) }]), signature)).toBeUndefined();
  });
});

describe('packed result', () => {
  it('carries the outputs and the timing', () => {
    const result: ExecutionResult = {
      kind: 'batch',
      outputs: [
        { name: 'Y', datatype: 'INT8', shape: [3], data: new Int8Array([-128, 0, 127]) },
        { name: 'X', datatype: 'FP64', shape: [2, 2], data: new Float64Array([Math.PI, -0, Number.MAX_VALUE, 5e-324]) },
      ],
      timing: { startNs: 77_123_456_789_012, inputNs: 1200, inferNs: 15_000, outputNs: 800 },
    };
    const packed = packResult(7, result, signature)!;
    const { id, result: received } = unpackResult(structuredClone(packed.message, { transfer: packed.transfer }), signature);
    expect(id).toBe(7);
    expect(received).toEqual(result);
  });

  it('is not used for outputs it cannot carry or results of other kinds', () => {
    const timing = { startNs: 1, inputNs: 0, inferNs: 0, outputNs: 0 };
    expect(packResult(0, { kind: 'batch', outputs: [{ name: 'S', datatype: 'BYTES', shape: [1], data: packBytes(['y']) }], timing }, signature)).toBeUndefined();
    expect(packResult(0, { kind: 'batch', outputs: [{ name: 'Z', datatype: 'INT8', shape: [1], data: new Int8Array(1) }], timing }, signature)).toBeUndefined();
    expect(packResult(0, { kind: 'decoupled', timing }, signature)).toBeUndefined();
    expect(packResult(0, { kind: 'per-request', responses: [], timing }, signature)).toBeUndefined();
  });
});
