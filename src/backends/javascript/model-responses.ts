import { ERROR_STATUS, elementCount, isDatatype, isPackedBytes, packBytes, packedBytesFromRaw, storedElementCount, typedArrayFor, type Datatype, type ErrorCode, type NumericArray, type Tensor } from '../../core/index.js';
import type { RequestOutcome, TensorSignature } from '../backend.js';
import type { ModelOutputTensor } from './model-api.js';

class ResponseError extends Error {}

const describe = (value: unknown) => (Array.isArray(value) ? `an array of ${value.length}` : value === null ? 'null' : typeof value);

/**
 * Every element of a tensor the model gives (an output, or an input of its infer()
 * calls) in the storage Nereid uses, in a buffer of its own. `label` says which tensor
 * (`output 'X'`) in messages.
 */
export function tensorStorage(label: string, datatype: Datatype, data: unknown): Tensor['data'] {
  if (datatype === 'BYTES') {
    // Checked and copied, as typed arrays are below: the model may keep its buffer.
    if (isPackedBytes(data)) {
      try {
        return packedBytesFromRaw(label, [data.count], data.count, data.bytes);
      } catch (err) {
        throw new ResponseError((err as Error).message);
      }
    }
    if (!Array.isArray(data)) throw new ResponseError(`${label}: BYTES data must be an array of strings or Uint8Arrays, or PackedBytes, got ${describe(data)}`);
    data.forEach((element, i) => {
      if (typeof element !== 'string' && !(element instanceof Uint8Array)) {
        throw new ResponseError(`${label}: element ${i} is ${describe(element)}, not a string or Uint8Array`);
      }
    });
    return packBytes(data as Array<string | Uint8Array>);
  }
  const Type = typedArrayFor(datatype);
  // A copy even of a typed array of the right type: the model may keep and reuse its
  // arrays, and the copy's buffer can then be transferred without detaching them.
  if (data instanceof Type) return (data as NumericArray).slice();
  if (!Array.isArray(data) && !ArrayBuffer.isView(data)) {
    throw new ResponseError(`${label}: data must be a typed array or an array, got ${describe(data)}`);
  }
  const values = Array.from(data as ArrayLike<unknown>);
  const big = datatype === 'INT64' || datatype === 'UINT64';
  const converted = big
    ? values.map((v) => (typeof v === 'bigint' ? v : BigInt(v as number)))
    : values.map((v) => (typeof v === 'boolean' ? Number(v) : (v as number)));
  return (Type as unknown as { from(values: unknown[]): NumericArray }).from(converted);
}

function outputTensor(name: string, value: unknown, configured: TensorSignature | undefined, rows: number | undefined): Tensor {
  if (typeof value !== 'object' || value === null) throw new ResponseError(`output '${name}' must be an object { shape, data }, got ${describe(value)}`);
  const output = value as ModelOutputTensor;
  const datatype = output.datatype ?? configured?.datatype;
  if (datatype === undefined || !isDatatype(datatype)) throw new ResponseError(`output '${name}': unknown datatype '${String(datatype)}'`);
  if (configured?.datatype && datatype !== configured.datatype) {
    throw new ResponseError(`output '${name}' has datatype ${datatype} but the configuration says ${configured.datatype}`);
  }
  const { shape } = output;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ResponseError(`output '${name}': shape must be an array of non-negative integers`);
  }
  if (rows !== undefined && shape[0] !== rows) {
    throw new ResponseError(`output '${name}' has shape [${shape.join(',')}] but the request has ${rows} row(s) in its batch dimension`);
  }
  let data: Tensor['data'];
  try {
    data = tensorStorage(`output '${name}'`, datatype, output.data);
  } catch (err) {
    if (err instanceof ResponseError) throw err;
    throw new ResponseError(`output '${name}': cannot convert data to ${datatype}: ${(err as Error).message}`);
  }
  if (storedElementCount(data) !== elementCount(shape)) {
    throw new ResponseError(`output '${name}' has ${storedElementCount(data)} values but shape [${shape.join(',')}] needs ${elementCount(shape)}`);
  }
  return { name, datatype, shape: [...shape], data };
}

export interface ResponseContext {
  outputs: readonly TensorSignature[];
  /** Each request's rows, or undefined for a model without batching. */
  rows: Array<number | undefined>;
  requestedOutputs: string[][];
}

/** Checks what execute() returned and converts it to one outcome per request. */
export function modelResponses(returned: unknown, context: ResponseContext): RequestOutcome[] {
  const count = context.rows.length;
  if (!Array.isArray(returned) || returned.length !== count) {
    const error = `model.js execute() returned ${describe(returned)} for ${count} request(s); it must return one response per request`;
    return context.rows.map(() => ({ error }));
  }
  const configured = new Map(context.outputs.map((o) => [o.name, o]));
  return returned.map((response: unknown, k): RequestOutcome => requestOutcome(response, k, context, configured));
}

/** Checks one response of execute() (or of a decoupled model's send()) for request `k` and converts it. */
export function requestOutcome(
  response: unknown,
  k: number,
  context: ResponseContext,
  configured: ReadonlyMap<string, TensorSignature> = new Map(context.outputs.map((o) => [o.name, o])),
): RequestOutcome {
  try {
    if (typeof response !== 'object' || response === null) throw new ResponseError(`expected { outputs } or { error }, got ${describe(response)}`);
    if ('error' in response) {
      const { error } = response as { error: unknown };
      if (!(error instanceof Error)) return { error: String(error) };
      // Like the code of a Python backend's TritonError: an error the request caused
      // (INVALID_ARG, a 400) rather than the model failing (INTERNAL, a 500).
      const { code } = error as { code?: unknown };
      return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code) ? { error: error.message, code: code as ErrorCode } : { error: error.message };
    }
    const { outputs } = response as { outputs?: unknown };
    if (typeof outputs !== 'object' || outputs === null) throw new ResponseError(`'outputs' must be an object keyed by output name, got ${describe(outputs)}`);
    return {
      outputs: context.requestedOutputs[k].map((name) => {
        if (!Object.hasOwn(outputs, name)) throw new ResponseError(`no output '${name}', which the request asked for`);
        return outputTensor(name, (outputs as Record<string, unknown>)[name], configured.get(name), context.rows[k]);
      }),
    };
  } catch (err) {
    if (!(err instanceof ResponseError)) throw err;
    return { error: `model.js response ${k}: ${err.message}` };
  }
}
