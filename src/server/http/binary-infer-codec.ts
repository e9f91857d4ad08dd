/**
 * Triton's binary tensor data extension: a JSON header of `Inference-Header-Content-Length`
 * bytes, followed by the raw bytes of the binary inputs in input order, each as long
 * as its `binary_data_size` parameter says. Responses mirror it: outputs asked for in
 * binary carry `binary_data_size` and their bytes follow the JSON header in output
 * order. The raw layout of each tensor (little-endian, BYTES length-prefixed) is the
 * one gRPC's raw contents use, in core/tensor-bytes.ts.
 */
import {
  byteSize,
  datatypeFromConfig,
  InferenceError,
  packBytes,
  tensorDataFromBytes,
  type Datatype,
  type InferenceRequest,
  type TensorData,
} from '../../core/index.js';
import type { ModelConfig } from '../../repository/index.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/**
 * The length of the JSON header: the `Inference-Header-Content-Length` header, or the
 * whole body when the request has none (a plain JSON request). 0 means a raw request:
 * the whole body is the one input's bytes (see `decodeRawInferRequest`).
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
  return length;
}

/**
 * A raw request (`Inference-Header-Content-Length: 0`), as Triton's binary extension
 * allows it: the body is the bytes of the model's only input, whose shape is its
 * configured dims (after a batch dimension of 1 when the model batches), one
 * variable-sized dimension deduced from the byte count; a BYTES input must hold one
 * element, the whole body. Every output comes back in binary.
 */
export function decodeRawInferRequest(bytes: Uint8Array, model: string, version: string | undefined, config: ModelConfig): InferenceRequest {
  if (config.input.length !== 1) {
    throw invalid(
      `Raw request must only have 1 input (found 1) to be deduced but got ${config.input.length} inputs in '${model}' model configuration`,
    );
  }
  const input = config.input[0];
  const datatype = datatypeFromConfig(input.data_type);
  if (!datatype) throw invalid(`raw input '${input.name}': model '${model}' declares an unknown data type ${input.data_type}`);
  const shape = [...(config.max_batch_size > 0 ? [1] : []), ...input.dims];
  const variable = shape.flatMap((d, axis) => (d < 0 ? [axis] : []));
  if (variable.length > 1) {
    throw invalid(`The shape of the raw input '${input.name}' can not be deduced because there are more than one variable-sized dimension`);
  }
  const fixedCount = shape.reduce((n, d) => (d < 0 ? n : n * d), 1);
  let data: TensorData;
  if (datatype === 'BYTES') {
    if (variable.length > 0 || fixedCount !== 1) {
      throw invalid(`For BYTE datatype raw input '${input.name}', the model must have input shape [1] (model '${model}' has [${input.dims.join(',')}])`);
    }
    data = packBytes([bytes]);
  } else {
    const rowBytes = fixedCount * byteSize(datatype);
    if (variable.length === 1) {
      if (rowBytes === 0 || bytes.byteLength % rowBytes !== 0) {
        throw invalid(
          `raw input '${input.name}': ${bytes.byteLength} bytes do not fill shape [${shape.join(',')}] of ${datatype} ` +
            `(a multiple of ${rowBytes} bytes is needed)`,
        );
      }
      shape[variable[0]] = bytes.byteLength / rowBytes;
    }
    data = tensorDataFromBytes(`raw input '${input.name}'`, datatype, shape, bytes);
  }
  return {
    model,
    version,
    inputs: [{ name: input.name, datatype, shape, data }],
    parameters: { binary_data_output: true },
  };
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
