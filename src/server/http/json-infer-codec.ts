/**
 * The KServe v2 JSON tensor format: request body → InferenceRequest, and
 * InferenceResponse → response body. Each value is checked once, while it is copied
 * into its typed array; every message names the input and the position.
 */
import {
  allocateTensorData,
  bf16Bits,
  bf16Value,
  elementCount,
  fp16Bits,
  fp16Value,
  InferenceError,
  isDatatype,
  type Datatype,
  type InferenceRequest,
  type InferenceResponse,
  type NumericArray,
  type Parameters,
  type RequestedOutput,
  type Tensor,
  type TensorData,
} from '../../core/index.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

const INTEGER_RANGE: Partial<Record<Datatype, [number, number]>> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseParameters(value: unknown, where: string): Parameters | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalid(`${where}: 'parameters' must be a JSON object`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw invalid(`${where}: parameter '${key}' must be a string, number or boolean`);
    }
  }
  return value as Parameters;
}

/** Makes a checked setter that stores element i of a tensor. */
function elementWriter(datatype: Datatype, data: TensorData, inputName: string): (value: unknown, index: number) => void {
  const fail = (value: unknown, index: number, expected: string) =>
    invalid(`input '${inputName}': value ${JSON.stringify(value)} at position ${index} is not ${expected}`);
  const numeric = data as NumericArray;
  switch (datatype) {
    case 'BOOL':
      return (value, i) => {
        if (typeof value !== 'boolean') throw fail(value, i, 'a boolean (true or false) as BOOL requires');
        numeric[i] = value ? 1 : 0;
      };
    case 'FP32':
    case 'FP64':
      return (value, i) => {
        if (typeof value !== 'number') throw fail(value, i, `a number as ${datatype} requires`);
        numeric[i] = value;
      };
    case 'FP16':
    case 'BF16': {
      const toBits = datatype === 'FP16' ? fp16Bits : bf16Bits;
      return (value, i) => {
        if (typeof value !== 'number') throw fail(value, i, `a number as ${datatype} requires`);
        numeric[i] = toBits(value);
      };
    }
    case 'BYTES': {
      const strings = data as Uint8Array[];
      return (value, i) => {
        if (typeof value !== 'string') throw fail(value, i, 'a string as BYTES requires');
        strings[i] = utf8Encoder.encode(value);
      };
    }
    default: {
      const [min, max] = INTEGER_RANGE[datatype]!;
      const big = datatype === 'INT64' || datatype === 'UINT64';
      const expected = `an integer in [${min}, ${max}] as ${datatype} requires`;
      return (value, i) => {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw fail(value, i, expected);
        if (big) (numeric as BigInt64Array)[i] = BigInt(value);
        else numeric[i] = value;
      };
    }
  }
}

/** Copies flat or nested `data` into storage; the count must equal the shape's. */
function decodeData(name: string, datatype: Datatype, shape: number[], data: unknown): TensorData {
  if (!Array.isArray(data)) throw invalid(`input '${name}': 'data' must be an array`);
  const expected = elementCount(shape);
  const storage = allocateTensorData(datatype, expected);
  const write = elementWriter(datatype, storage, name);
  let count = 0;
  const visit = (values: unknown[]) => {
    for (const value of values) {
      if (Array.isArray(value)) {
        visit(value);
      } else {
        if (count < expected) write(value, count);
        count++;
      }
    }
  };
  visit(data);
  if (count !== expected) {
    throw invalid(`input '${name}': expected ${expected} values for shape [${shape.join(',')}], got ${count}`);
  }
  return storage;
}

function decodeInput(value: unknown, index: number): Tensor {
  const where = `inputs[${index}]`;
  if (!isObject(value)) throw invalid(`${where} must be a JSON object`);
  const { name, datatype, shape, data } = value;
  if (typeof name !== 'string' || name === '') throw invalid(`${where}: 'name' must be a non-empty string`);
  if (typeof datatype !== 'string') throw invalid(`input '${name}': 'datatype' must be a string`);
  if (!isDatatype(datatype)) throw invalid(`input '${name}': unknown datatype '${datatype}'`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw invalid(`input '${name}': 'shape' must be an array of non-negative integers`);
  }
  const inputParameters = parseParameters(value.parameters, `input '${name}'`);
  if (inputParameters && inputParameters['binary_data_size'] !== undefined) {
    throw new InferenceError('UNSUPPORTED', `input '${name}': binary tensor data is not supported yet; send 'data' as JSON`);
  }
  if (data === undefined) throw invalid(`input '${name}': 'data' is missing`);
  return { name, datatype, shape: shape as number[], data: decodeData(name, datatype, shape as number[], data) };
}

function decodeRequestedOutput(value: unknown, index: number): RequestedOutput {
  if (!isObject(value)) throw invalid(`outputs[${index}] must be a JSON object`);
  if (typeof value.name !== 'string' || value.name === '') throw invalid(`outputs[${index}]: 'name' must be a non-empty string`);
  const parameters = parseParameters(value.parameters, `output '${value.name}'`);
  if (parameters?.['binary_data'] === true) {
    throw new InferenceError('UNSUPPORTED', `output '${value.name}': binary tensor data is not supported yet; omit 'binary_data'`);
  }
  return parameters ? { name: value.name, parameters } : { name: value.name };
}

/** Parses a `…/infer` body into a request for `model` (and `version` when the path names one). */
export function decodeInferRequest(body: Uint8Array, model: string, version: string | undefined): InferenceRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Decoder.decode(body));
  } catch (err) {
    throw invalid(`failed to parse the request JSON buffer: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw invalid('the request body must be a JSON object');
  if (parsed.id !== undefined && typeof parsed.id !== 'string') throw invalid(`'id' must be a string`);
  if (!Array.isArray(parsed.inputs) || parsed.inputs.length === 0) throw invalid(`'inputs' must be a non-empty array`);
  if (parsed.outputs !== undefined && !Array.isArray(parsed.outputs)) throw invalid(`'outputs' must be an array`);
  const request: InferenceRequest = {
    model,
    version,
    inputs: parsed.inputs.map(decodeInput),
  };
  if (parsed.id !== undefined) request.id = parsed.id;
  if (parsed.outputs) request.outputs = parsed.outputs.map(decodeRequestedOutput);
  const parameters = parseParameters(parsed.parameters, 'request');
  if (parameters) request.parameters = parameters;
  return request;
}

function jsonValues(tensor: Tensor): string {
  const { data, datatype } = tensor;
  if (datatype === 'BYTES') return JSON.stringify((data as Uint8Array[]).map((bytes) => utf8Decoder.decode(bytes)));
  const numeric = data as NumericArray;
  if (datatype === 'BOOL') return `[${Array.from(numeric as Uint8Array, (v) => (v ? 'true' : 'false')).join(',')}]`;
  if (datatype === 'FP16' || datatype === 'BF16') {
    const toValue = datatype === 'FP16' ? fp16Value : bf16Value;
    return JSON.stringify(Array.from(numeric as Uint16Array, toValue));
  }
  const text = (numeric as Float32Array).join(',');
  // JSON has no NaN or Infinity; JSON.stringify writes them as null.
  if (text.includes('N') || text.includes('I')) return JSON.stringify(Array.from(numeric as Float32Array));
  return `[${text}]`;
}

export function encodeInferResponse(response: InferenceResponse): string {
  let json = `{"model_name":${JSON.stringify(response.model)},"model_version":${JSON.stringify(response.version)}`;
  if (response.id !== undefined) json += `,"id":${JSON.stringify(response.id)}`;
  if (response.parameters) json += `,"parameters":${JSON.stringify(response.parameters)}`;
  json += ',"outputs":[';
  response.outputs.forEach((output, i) => {
    if (i > 0) json += ',';
    json += `{"name":${JSON.stringify(output.name)},"datatype":"${output.datatype}","shape":[${output.shape.join(',')}],"data":${jsonValues(output)}}`;
  });
  return json + ']}';
}
