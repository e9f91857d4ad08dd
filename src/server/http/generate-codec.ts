/**
 * Triton's generate extension (`/v2/models/{m}/generate` and `generate_stream`): a flat
 * JSON object instead of the tensor protocol. Each member named like an input of the
 * model is that input (a string, number or boolean, or a flat array of them); `id` is
 * the request id; `parameters` holds request parameters, and every other member is one
 * more parameter. A response is a flat object too: `model_name`, `model_version`, and
 * each output by name, as a single value when it holds one element, else as an array.
 */
import { datatypeFromConfig, elementCount, InferenceError, type InferenceRequest, type InferenceResponse, type Parameters, type Tensor } from '../../core/index.js';
import type { ModelConfig } from '../../repository/index.js';
import { decodeJsonData, encodeJsonData } from './json-infer-codec.js';
import type { RepeatedKeys } from './repeated-json-keys.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

const isScalar = (value: unknown): value is string | number | boolean => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

/** One input of the generate request: a value is shaped [1], a flat array [n] (the configured dims when they are fixed and hold as many). */
function generateInput(name: string, value: unknown, config: ModelConfig): Tensor {
  const configured = config.input.find((input) => input.name === name)!;
  const datatype = datatypeFromConfig(configured.data_type);
  if (!datatype) throw invalid(`input '${name}': the model's data_type ${configured.data_type} cannot carry data`);
  const values = Array.isArray(value) ? value : [value];
  if (!values.every(isScalar)) {
    throw invalid(`input '${name}': a generate request gives an input as a string, number or boolean, or as a flat array of them`);
  }
  const fixed = configured.dims.length > 0 && configured.dims.every((d) => d >= 0) && elementCount(configured.dims) === values.length;
  const shape = [...(config.max_batch_size > 0 ? [1] : []), ...(fixed ? configured.dims : [values.length])];
  return { name, datatype, shape, data: decodeJsonData(name, datatype, shape, values) };
}

/**
 * A key given twice is refused: Triton adds each member of the request in turn, so a
 * repeated input fails there with its core's message; a repeated parameter Triton would
 * pass on twice, and Nereid refuses rather than silently keep one of them.
 */
function refuseRepeatedKeys(repeated: RepeatedKeys, inputNames: ReadonlySet<string>): void {
  for (const key of repeated.topLevel) {
    if (inputNames.has(key)) throw invalid(`input '${key}' already exists in request`);
    if (key === 'id' || key === 'parameters') throw invalid(`'${key}' is given more than once in the request`);
    throw invalid(`parameter '${key}' is given more than once in the request`);
  }
  for (const key of repeated.parameters) throw invalid(`parameter '${key}' is given more than once in the request's 'parameters'`);
}

export function decodeGenerateRequest(
  body: Record<string, unknown>,
  model: string,
  version: string | undefined,
  config: ModelConfig,
  repeated: RepeatedKeys = { topLevel: [], parameters: [] },
): InferenceRequest {
  const inputNames = new Set(config.input.map((input) => input.name));
  refuseRepeatedKeys(repeated, inputNames);
  const inputs: Tensor[] = [];
  const parameters: Parameters = {};
  let id: string | undefined;
  for (const [key, value] of Object.entries(body)) {
    if (inputNames.has(key)) {
      inputs.push(generateInput(key, value, config));
    } else if (key === 'parameters') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid("'parameters' must be a JSON object");
      for (const [name, parameter] of Object.entries(value)) {
        if (!isScalar(parameter)) throw invalid(`parameter '${name}' has invalid type: a parameter is a string, number or boolean`);
        parameters[name] = parameter;
      }
    } else if (key === 'id') {
      if (typeof value !== 'string') throw invalid("'id' must be a string");
      id = value;
    } else {
      if (!isScalar(value)) {
        throw invalid(`parameter '${key}' has invalid type: '${key}' is not an input of model '${model}', so it is a parameter, which is a string, number or boolean`);
      }
      parameters[key] = value;
    }
  }
  const request: InferenceRequest = { model, version, inputs };
  if (id !== undefined) request.id = id;
  if (Object.keys(parameters).length > 0) request.parameters = parameters;
  return request;
}

/** The JSON text of one generate response. */
export function encodeGenerateResponse(response: InferenceResponse): string {
  let text = `{"model_name":${JSON.stringify(response.model)},"model_version":${JSON.stringify(response.version)}`;
  if (response.id !== undefined) text += `,"id":${JSON.stringify(response.id)}`;
  for (const output of response.outputs) {
    const data = encodeJsonData(output);
    text += `,${JSON.stringify(output.name)}:${elementCount(output.shape) === 1 ? data.slice(1, -1) : data}`;
  }
  return `${text}}`;
}
