/**
 * The body of `POST …/infer` → InferenceRequest. The JSON header describes the
 * request; each input's values come from exactly one place: its JSON `data`, the
 * binary part of the body (`binary_data_size`), or a registered shared-memory region
 * (`shared_memory_region`).
 */
import {
  checkShapeSize,
  InferenceError,
  isDatatype,
  type InferenceRequest,
  type Parameters,
  type RequestedOutput,
  type Tensor,
  type TensorData,
} from '../../core/index.js';
import { sharedMemoryReference, type SharedMemoryManager } from '../shared-memory/index.js';
import type { ModelConfig } from '../../repository/index.js';
import { BinaryInputs, binaryDataSize, decodeRawInferRequest, jsonHeaderLength } from './binary-infer-codec.js';
import { inputDataNumberTokens } from './exact-integer-scanner.js';
import { decodeJsonData } from './json-infer-codec.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);
const utf8Decoder = new TextDecoder();

export interface InferBody {
  /** The request body, already inflated when it came compressed. */
  bytes: Uint8Array;
  /** The `Inference-Header-Content-Length` header, '' when absent. */
  headerLength: string;
  /** Whether `bytes` was inflated from a compressed body (for messages). */
  inflated: boolean;
}

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

/** Triton's rule, with the input named: exactly one of the three sources. */
function checkOneSource(name: string, hasData: boolean, parameters: Parameters | undefined): void {
  const binary = parameters?.['binary_data_size'] !== undefined;
  const shm = parameters?.['shared_memory_region'] !== undefined;
  const count = Number(hasData) + Number(binary) + Number(shm);
  if (count === 1) return;
  const set = [hasData && "'data'", binary && "'binary_data_size'", shm && "'shared_memory_region'"].filter(Boolean).join(' ');
  throw invalid(
    `input '${name}': Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', ` +
      `'shared_memory_region' in 'parameters'. But ${count === 0 ? 'no field is set' : `set ${set}`}`,
  );
}

function decodeRequestedOutput(value: unknown, index: number): RequestedOutput {
  if (!isObject(value)) throw invalid(`outputs[${index}] must be a JSON object`);
  if (typeof value.name !== 'string' || value.name === '') throw invalid(`outputs[${index}]: 'name' must be a non-empty string`);
  const where = `output '${value.name}'`;
  const parameters = parseParameters(value.parameters, where);
  const binary = parameters?.['binary_data'];
  if (binary !== undefined && typeof binary !== 'boolean') throw invalid(`${where}: parameter 'binary_data' must be a boolean`);
  if (binary === true && parameters?.['shared_memory_region'] !== undefined) {
    throw invalid(`${where}: Output can't set both 'shared_memory_region' and 'binary_data'`);
  }
  return parameters ? { name: value.name, parameters } : { name: value.name };
}

/**
 * Parses a `…/infer` body into a request for `model` (and `version` when the path
 * names one); `config` is the serving model's, which a raw binary body needs.
 */
export function decodeInferRequest(
  body: InferBody,
  model: string,
  version: string | undefined,
  config: ModelConfig,
  sharedMemory: SharedMemoryManager,
): InferenceRequest {
  const { bytes } = body;
  const headerLength = jsonHeaderLength(body.headerLength, bytes.byteLength, body.inflated);
  if (headerLength === 0) return decodeRawInferRequest(bytes, model, version, config);
  const text = utf8Decoder.decode(headerLength === bytes.byteLength ? bytes : bytes.subarray(0, headerLength));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(`failed to parse the request JSON buffer: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw invalid('the request body must be a JSON object');
  if (parsed.id !== undefined && typeof parsed.id !== 'string') throw invalid(`'id' must be a string`);
  if (!Array.isArray(parsed.inputs) || parsed.inputs.length === 0) throw invalid(`'inputs' must be a non-empty array`);
  if (parsed.outputs !== undefined && !Array.isArray(parsed.outputs)) throw invalid(`'outputs' must be an array`);
  const parameters = parseParameters(parsed.parameters, 'request');
  const binaryOutput = parameters?.['binary_data_output'];
  if (binaryOutput !== undefined && typeof binaryOutput !== 'boolean') throw invalid(`request: parameter 'binary_data_output' must be a boolean`);

  const binary = new BinaryInputs(bytes.subarray(headerLength), model, headerLength);
  const inputs = parsed.inputs.map((value: unknown, index: number): Tensor => {
    const where = `inputs[${index}]`;
    if (!isObject(value)) throw invalid(`${where} must be a JSON object`);
    const { name, datatype, shape, data } = value;
    if (typeof name !== 'string' || name === '') throw invalid(`${where}: 'name' must be a non-empty string`);
    if (typeof datatype !== 'string') throw invalid(`input '${name}': 'datatype' must be a string`);
    if (!isDatatype(datatype)) throw invalid(`input '${name}': unknown datatype '${datatype}'`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw invalid(`input '${name}': 'shape' must be an array of non-negative integers`);
    }
    checkShapeSize(`input '${name}'`, datatype, shape);
    const inputParameters = parseParameters(value.parameters, `input '${name}'`);
    checkOneSource(name, data !== undefined, inputParameters);
    let tensorData: TensorData;
    const byteSize = binaryDataSize(name, inputParameters?.['binary_data_size']);
    if (byteSize !== undefined) {
      tensorData = binary.next(name, datatype, shape, byteSize);
    } else if (data !== undefined) {
      tensorData = decodeJsonData(name, datatype, shape, data, () => inputDataNumberTokens(text, index));
    } else {
      tensorData = sharedMemory.readInput(model, name, datatype, shape, sharedMemoryReference(inputParameters, `input '${name}'`)!);
    }
    return { name, datatype, shape: shape as number[], data: tensorData };
  });
  binary.finish();

  const request: InferenceRequest = { model, version, inputs };
  if (parsed.id !== undefined) request.id = parsed.id;
  if (parsed.outputs) request.outputs = parsed.outputs.map(decodeRequestedOutput);
  if (parameters) request.parameters = parameters;
  return request;
}
