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
import { packedBytesFromRaw, type PackedBytes } from './packed-bytes.js';
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
  if (datatype === 'BYTES') return packedBytesFromRaw(label, shape, count, bytes);
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

/** The raw bytes of a tensor: a view on its storage, no copy (BYTES storage is the raw layout already). */
export function tensorDataToBytes(datatype: Datatype, data: TensorData): Uint8Array {
  if (datatype !== 'BYTES') {
    const numeric = data as NumericArray;
    return new Uint8Array(numeric.buffer, numeric.byteOffset, numeric.byteLength);
  }
  return (data as PackedBytes).bytes;
}
