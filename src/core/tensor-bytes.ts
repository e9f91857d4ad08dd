/**
 * The raw tensor layout shared by gRPC's raw_input_contents / raw_output_contents
 * and HTTP's binary tensor data extension: elements flattened in row-major order,
 * little-endian, no padding; a BYTES element is a 4-byte little-endian length
 * followed by that many bytes.
 *
 * Typed arrays use the host's byte order, which is little-endian on every platform
 * Node ships for (x64, arm64), so numeric tensors convert by copying bytes.
 */
import { byteSize, elementCount, type Datatype } from './datatype.js';
import { InferenceError } from './errors.js';
import { typedArrayFor, type NumericArray, type TensorData } from './tensor.js';

const formatShape = (shape: readonly number[]) => `[${shape.join(',')}]`;

/**
 * Decodes one tensor's raw bytes into fresh storage. The result never aliases
 * `bytes`: backends transfer an input's ArrayBuffer to their worker thread, and the
 * received buffer is shared with the rest of the message (and, for small messages,
 * with Node's buffer pool); elements inside a message are not aligned either.
 * `label` names the tensor in errors, e.g. `input 'INPUT0'`.
 */
export function tensorDataFromBytes(label: string, datatype: Datatype, shape: readonly number[], bytes: Uint8Array): TensorData {
  const count = elementCount(shape);
  if (datatype === 'BYTES') return stringsFromBytes(label, shape, count, bytes);
  const expected = count * byteSize(datatype);
  if (bytes.byteLength !== expected) {
    throw new InferenceError(
      'INVALID_ARG',
      `${label}: raw content of ${bytes.byteLength} bytes does not match shape ${formatShape(shape)} of ${datatype}, which needs ${expected} bytes`,
    );
  }
  const ArrayType = typedArrayFor(datatype);
  const data = new ArrayType(count);
  new Uint8Array(data.buffer, data.byteOffset, expected).set(bytes);
  return data;
}

function stringsFromBytes(label: string, shape: readonly number[], count: number, bytes: Uint8Array): Uint8Array[] {
  if (count * 4 > bytes.byteLength) {
    throw new InferenceError(
      'INVALID_ARG',
      `${label}: raw BYTES content of ${bytes.byteLength} bytes cannot hold the ${count} elements that shape ${formatShape(shape)} needs (4 bytes of length each at least)`,
    );
  }
  // One copy of the whole content, elements as views on it: a view would otherwise keep
  // the whole received message alive (and drag it along to a worker thread), and a copy
  // per element costs an ArrayBuffer per element, which dominates for millions of them.
  const owned = new Uint8Array(bytes);
  const view = new DataView(owned.buffer);
  const strings = new Array<Uint8Array>(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.byteLength) {
      throw new InferenceError(
        'INVALID_ARG',
        `${label}: raw BYTES content ends after ${i} of the ${count} elements that shape ${formatShape(shape)} needs`,
      );
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) {
      throw new InferenceError(
        'INVALID_ARG',
        `${label}: raw BYTES element ${i} declares ${length} bytes but only ${bytes.byteLength - offset} remain`,
      );
    }
    strings[i] = owned.subarray(offset, offset + length);
    offset += length;
  }
  if (offset !== bytes.byteLength) {
    throw new InferenceError(
      'INVALID_ARG',
      `${label}: raw BYTES content has ${bytes.byteLength - offset} bytes left over after the ${count} element(s) of shape ${formatShape(shape)}`,
    );
  }
  return strings;
}

/**
 * BYTES elements copied into one fresh buffer and handed back as views on it: the
 * elements no longer alias what they came from (a received message), and one buffer is
 * allocated rather than one per element.
 */
export function packedByteElements(elements: readonly Uint8Array[]): Uint8Array[] {
  let total = 0;
  for (const element of elements) total += element.byteLength;
  const packed = new Uint8Array(total);
  const views = new Array<Uint8Array>(elements.length);
  let offset = 0;
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i];
    packed.set(element, offset);
    views[i] = packed.subarray(offset, offset + element.byteLength);
    offset += element.byteLength;
  }
  return views;
}

/** The raw bytes of a tensor: a view on numeric storage (no copy), a packed buffer for BYTES. */
export function tensorDataToBytes(datatype: Datatype, data: TensorData): Uint8Array {
  if (datatype !== 'BYTES') {
    const numeric = data as NumericArray;
    return new Uint8Array(numeric.buffer, numeric.byteOffset, numeric.byteLength);
  }
  const strings = data as Uint8Array[];
  let total = 0;
  for (const s of strings) total += 4 + s.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const s of strings) {
    view.setUint32(offset, s.byteLength, true);
    out.set(s, offset + 4);
    offset += 4 + s.byteLength;
  }
  return out;
}
