/**
 * A compact form of the two messages every execution costs: the 'execute' command and
 * its 'result'. postMessage serializes an object field by field (names, datatypes,
 * shapes, the batch's nested objects): 6–8 µs per message on each side for a small
 * batch, most of a hand-off's cost. Packed, the message is one ArrayBuffer (a header of
 * float64 fields, then the tensors' bytes, 8-byte aligned), tensors named by their
 * index in the model's signature, which both threads hold: ~2 µs. Only what the
 * packed form can carry is packed (fixed-size datatypes, names in the signature, a
 * batch without per-request parts, at most PACK_MAX_BYTES of tensor data); anything
 * else travels as the objects of worker-protocol.ts.
 */
import { DATATYPES, isPackedBytes, typedArrayFor, type Datatype, type NumericArray, type Tensor } from '../core/index.js';
import type { ExecutionBatch, ExecutionResult, ModelSignature, TensorSignature } from './backend.js';

/**
 * Tensor data up to this size is copied into the packed message; larger batches are
 * transferred as objects (copying them would cost more than serializing their fields).
 */
export const PACK_MAX_BYTES = 64 * 1024;
/** Smaller packed messages are copied by postMessage rather than transferred, which is cheaper for them. */
const TRANSFER_MIN_BYTES = 4 * 1024;

const EXECUTE = 1;
const RESULT = 2;
const FIXED_SIZE = DATATYPES.filter((datatype) => datatype !== 'BYTES');

type ViewConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => NumericArray;

/** An execute command: the packed buffer, and the batch's cancellation flags (shared memory) if it has any. */
export type PackedExecute = [ArrayBuffer] | [ArrayBuffer, Int32Array];
/** A batch execution's result. */
export type PackedResult = [ArrayBuffer];

const align8 = (n: number) => (n + 7) & ~7;

function indexOf(tensors: readonly TensorSignature[], name: string): number {
  for (let i = 0; i < tensors.length; i++) if (tensors[i].name === name) return i;
  return -1;
}

/** The fields of an ExecutionBatch that a packed execute command carries. */
const PACKED_BATCH_FIELDS: ReadonlySet<string> = new Set(['inputs', 'outputNames', 'requests', 'cancelled']);

/** Header fields of the tensors, or -1 if one of them cannot be packed; data bytes in `size.bytes`. */
function tensorFields(tensors: readonly Tensor[], size: { bytes: number }): number {
  let fields = 0;
  for (const { data, shape } of tensors) {
    if (isPackedBytes(data)) return -1;
    // A tensor whose data does not hold its shape's elements stands for memory elsewhere
    // (a device tensor's placeholder, core/device-tensor.ts): only the object form keeps it.
    if (data.length !== shape.reduce((n, d) => n * d, 1)) return -1;
    fields += 5 + shape.length;
    size.bytes += align8(data.byteLength);
  }
  return fields;
}

/** Writes the tensors' header fields from `at` and their bytes from `dataAt`; false if a name is not in `signature`. */
function writeTensors(tensors: readonly Tensor[], signature: readonly TensorSignature[], header: Float64Array, at: number, bytes: Uint8Array, dataAt: number): boolean {
  for (const { name, datatype, shape, data } of tensors) {
    const index = indexOf(signature, name);
    if (index < 0) return false;
    const view = data as NumericArray;
    header[at++] = index;
    header[at++] = FIXED_SIZE.indexOf(datatype as (typeof FIXED_SIZE)[number]);
    header[at++] = shape.length;
    for (const d of shape) header[at++] = d;
    header[at++] = dataAt;
    header[at++] = view.length;
    bytes.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), dataAt);
    dataAt += align8(view.byteLength);
  }
  return true;
}

/** Reads `count` tensors written by writeTensors, as views on `buffer`. */
function readTensors(buffer: ArrayBuffer, header: Float64Array, at: number, count: number, signature: readonly TensorSignature[]): Tensor[] {
  const tensors: Tensor[] = [];
  for (let k = 0; k < count; k++) {
    const name = signature[header[at++]].name;
    const datatype: Datatype = FIXED_SIZE[header[at++]];
    const rank = header[at++];
    const shape: number[] = [];
    for (let d = 0; d < rank; d++) shape.push(header[at++]);
    const offset = header[at++];
    const length = header[at++];
    tensors.push({ name, datatype, shape, data: new (typedArrayFor(datatype) as unknown as ViewConstructor)(buffer, offset, length) });
  }
  return tensors;
}

function transferOf(buffer: ArrayBuffer): ArrayBuffer[] {
  return buffer.byteLength >= TRANSFER_MIN_BYTES ? [buffer] : [];
}

/** The packed execute command with its transfer list, or undefined when the batch needs the object form. */
export function packExecute(id: number, batch: ExecutionBatch, signature: ModelSignature): { message: PackedExecute; transfer: ArrayBuffer[] } | undefined {
  if (batch.requests.length > 0) return undefined;
  // A backend's own fields on the batch (the cuda backend's device outputs) travel only in the object form.
  for (const key of Object.keys(batch)) if (!PACKED_BATCH_FIELDS.has(key)) return undefined;
  const size = { bytes: 0 };
  const inputFields = tensorFields(batch.inputs, size);
  if (inputFields < 0 || size.bytes > PACK_MAX_BYTES) return undefined;
  const fields = 4 + inputFields + batch.outputNames.length;
  const headerBytes = fields * 8;
  const buffer = new ArrayBuffer(headerBytes + size.bytes);
  const header = new Float64Array(buffer, 0, fields);
  header[0] = EXECUTE;
  header[1] = id;
  header[2] = batch.inputs.length;
  header[3] = batch.outputNames.length;
  if (!writeTensors(batch.inputs, signature.inputs, header, 4, new Uint8Array(buffer), headerBytes)) return undefined;
  let at = 4 + inputFields;
  for (const name of batch.outputNames) {
    const index = indexOf(signature.outputs, name);
    if (index < 0) return undefined;
    header[at++] = index;
  }
  return { message: batch.cancelled ? [buffer, batch.cancelled] : [buffer], transfer: transferOf(buffer) };
}

export function unpackExecute(message: PackedExecute, signature: ModelSignature): { id: number; batch: ExecutionBatch } {
  const [buffer, cancelled] = message;
  const header = new Float64Array(buffer, 0, 4);
  const id = header[1];
  const inputCount = header[2];
  const outputCount = header[3];
  // The header's length is known only once its tensors' ranks are read.
  const all = new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
  const inputs = readTensors(buffer, all, 4, inputCount, signature.inputs);
  let at = 4;
  for (const input of inputs) at += 5 + input.shape.length;
  const outputNames: string[] = [];
  for (let k = 0; k < outputCount; k++) outputNames.push(signature.outputs[all[at++]].name);
  const batch: ExecutionBatch = { inputs, outputNames, requests: [] };
  if (cancelled) batch.cancelled = cancelled;
  return { id, batch };
}

/** The packed result with its transfer list, or undefined when the result needs the object form. */
export function packResult(id: number, result: ExecutionResult, signature: ModelSignature): { message: PackedResult; transfer: ArrayBuffer[] } | undefined {
  if (result.kind !== 'batch') return undefined;
  const size = { bytes: 0 };
  const outputFields = tensorFields(result.outputs, size);
  if (outputFields < 0 || size.bytes > PACK_MAX_BYTES) return undefined;
  const fields = 7 + outputFields;
  const headerBytes = fields * 8;
  const buffer = new ArrayBuffer(headerBytes + size.bytes);
  const header = new Float64Array(buffer, 0, fields);
  const { timing } = result;
  header[0] = RESULT;
  header[1] = id;
  header[2] = timing.startNs;
  header[3] = timing.inputNs;
  header[4] = timing.inferNs;
  header[5] = timing.outputNs;
  header[6] = result.outputs.length;
  if (!writeTensors(result.outputs, signature.outputs, header, 7, new Uint8Array(buffer), headerBytes)) return undefined;
  return { message: [buffer], transfer: transferOf(buffer) };
}

export function unpackResult(message: PackedResult, signature: ModelSignature): { id: number; result: ExecutionResult } {
  const [buffer] = message;
  const header = new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
  const timing = { startNs: header[2], inputNs: header[3], inferNs: header[4], outputNs: header[5] };
  return { id: header[1], result: { kind: 'batch', outputs: readTensors(buffer, header, 7, header[6], signature.outputs), timing } };
}
