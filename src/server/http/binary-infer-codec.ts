/**
 * Triton's binary tensor data extension: a JSON header of `Inference-Header-Content-Length`
 * bytes, followed by the raw bytes of the binary inputs in input order, each as long
 * as its `binary_data_size` parameter says. Responses mirror it: outputs asked for in
 * binary carry `binary_data_size` and their bytes follow the JSON header in output
 * order. The raw layout of each tensor (little-endian, BYTES length-prefixed) is the
 * one gRPC's raw contents use, in core/tensor-bytes.ts.
 */
import { InferenceError, tensorDataFromBytes, type Datatype, type TensorData } from '../../core/index.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/**
 * The length of the JSON header: the `Inference-Header-Content-Length` header, or the
 * whole body when the request has none (a plain JSON request).
 */
export function jsonHeaderLength(headerValue: string, bodyLength: number, inflated: boolean): number {
  if (headerValue === '') return bodyLength;
  const length = /^\d+$/.test(headerValue.trim()) ? Number(headerValue.trim()) : NaN;
  if (!Number.isSafeInteger(length) || length > bodyLength) {
    throw invalid(
      `Inference-Header-Content-Length must be a byte count within the ${bodyLength}-byte request body` +
        `${inflated ? ' (after decompression)' : ''}, got '${headerValue}'`,
    );
  }
  if (length === 0) {
    throw new InferenceError(
      'UNSUPPORTED',
      'Inference-Header-Content-Length is 0: a request made of one raw binary input without a JSON header is not supported; send the JSON header first',
    );
  }
  return length;
}

/** An input's `binary_data_size` parameter, or undefined when it has none. */
export function binaryDataSize(inputName: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`input '${inputName}': parameter 'binary_data_size' must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The binary part of a request body, handed out input by input. Every slice is
 * checked against what remains, so a size that runs past the end is an error
 * that gives the numbers, never a read beyond the body.
 */
export class BinaryInputs {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly model: string,
    private readonly headerLength: number,
  ) {}

  /** Decodes the next `byteSize` bytes as the data of one input. */
  next(inputName: string, datatype: Datatype, shape: readonly number[], byteSize: number): TensorData {
    const remaining = this.bytes.byteLength - this.offset;
    if (byteSize > remaining) {
      throw invalid(
        `unexpected size for input '${inputName}', expecting ${byteSize - remaining} additional bytes for model '${this.model}': ` +
          `its binary_data_size is ${byteSize} but only ${remaining} bytes of binary data remain ` +
          `(body of ${this.headerLength + this.bytes.byteLength} bytes, JSON header of ${this.headerLength} bytes)`,
      );
    }
    const slice = this.bytes.subarray(this.offset, this.offset + byteSize);
    this.offset += byteSize;
    return tensorDataFromBytes(`input '${inputName}'`, datatype, shape, slice);
  }

  /** Every byte after the header must belong to some input. */
  finish(): void {
    const left = this.bytes.byteLength - this.offset;
    if (left > 0) {
      throw invalid(
        `unexpected additional input data for model '${this.model}': ${left} bytes follow the last binary input ` +
          `(body of ${this.headerLength + this.bytes.byteLength} bytes, JSON header of ${this.headerLength} bytes, ` +
          `binary inputs of ${this.offset} bytes)`,
      );
    }
  }
}

/** The JSON header followed by the binary outputs, as one body. */
export function binaryResponseBody(header: string, parts: readonly Uint8Array[]): { body: Uint8Array; headerLength: number } {
  const head = Buffer.from(header, 'utf8');
  return { body: Buffer.concat([head, ...parts]), headerLength: head.byteLength };
}
