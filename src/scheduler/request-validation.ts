import {
  datatypeFromConfig,
  InferenceError,
  type InferenceRequest,
  type Tensor,
} from '../core/index.js';
import type { ModelConfig, ModelInput } from '../repository/model-config.js';

/** A request checked against its model's config, in the shapes the backend expects. */
export interface PreparedRequest {
  request: InferenceRequest;
  /** In configuration order, so that the inputs of requests batched together line up. */
  inputs: Tensor[];
  outputNames: string[];
  /** Rows this request contributes to a batch; 1 for a model without batching. */
  batchSize: number;
}

const formatShape = (shape: readonly number[]) => `[${shape.join(',')}]`;

function dimsMatch(expected: readonly number[], actual: readonly number[]): boolean {
  if (expected.length !== actual.length) return false;
  return expected.every((d, i) => d === -1 || d === actual[i]);
}

/** Resolves one -1 in a config `reshape` from the element count. */
function reshapeDims(reshape: readonly number[], elements: number): number[] {
  const known = reshape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  return reshape.map((d) => (d === -1 ? elements / known : d));
}

/**
 * Triton's request normalisation: every input known, required inputs present,
 * datatypes and shapes as configured, one batch size shared by all inputs.
 * Messages follow Triton's wording, which clients match on.
 */
export function prepareRequest(modelName: string, config: ModelConfig, request: InferenceRequest): PreparedRequest {
  const batching = config.max_batch_size > 0;
  const byName = new Map<string, ModelInput>(config.input.map((input) => [input.name, input]));
  const seen = new Set<string>();
  let batchSize = batching ? -1 : 1;
  const inputs: Tensor[] = [];
  const order: number[] = [];

  for (const tensor of request.inputs) {
    const spec = byName.get(tensor.name);
    if (!spec) throw new InferenceError('INVALID_ARG', `unexpected inference input '${tensor.name}' for model '${modelName}'`);
    if (seen.has(tensor.name)) throw new InferenceError('INVALID_ARG', `input '${tensor.name}' appears more than once in the request`);
    seen.add(tensor.name);

    const expectedType = datatypeFromConfig(spec.data_type);
    if (tensor.datatype !== expectedType) {
      throw new InferenceError(
        'INVALID_ARG',
        `inference input '${tensor.name}' data-type is '${tensor.datatype}', but model '${modelName}' expects '${expectedType}'`,
      );
    }

    let itemShape = tensor.shape;
    if (batching) {
      if (tensor.shape.length === 0) {
        throw new InferenceError('INVALID_ARG', `input '${tensor.name}' for model '${modelName}' must have a batch dimension, got shape []`);
      }
      const rows = tensor.shape[0];
      if (rows < 1 || rows > config.max_batch_size) {
        throw new InferenceError('INVALID_ARG', `inference request batch-size must be <= ${config.max_batch_size} for '${modelName}', got ${rows} in input '${tensor.name}'`);
      }
      if (batchSize !== -1 && rows !== batchSize) {
        throw new InferenceError('INVALID_ARG', `input '${tensor.name}' has batch size ${rows} but an earlier input has ${batchSize}: all inputs of a request share one batch size`);
      }
      batchSize = rows;
      itemShape = tensor.shape.slice(1);
    }
    if (!dimsMatch(spec.dims, itemShape)) {
      const expected = batching ? [-1, ...spec.dims] : spec.dims;
      throw new InferenceError(
        'INVALID_ARG',
        `unexpected shape for input '${tensor.name}' for model '${modelName}'. Expected ${formatShape(expected)}, got ${formatShape(tensor.shape)}`,
      );
    }

    if (spec.reshape) {
      const itemElements = itemShape.reduce((n, d) => n * d, 1);
      const reshaped = reshapeDims(spec.reshape.shape, itemElements);
      inputs.push({ ...tensor, shape: batching ? [tensor.shape[0], ...reshaped] : reshaped });
    } else {
      inputs.push(tensor);
    }
    order.push(config.input.indexOf(spec));
  }
  if (order.some((position, i) => i > 0 && position < order[i - 1])) {
    const sorted = inputs.map((input, i) => ({ input, position: order[i] })).sort((a, b) => a.position - b.position);
    sorted.forEach(({ input }, i) => (inputs[i] = input));
  }

  const missing = config.input.filter((input) => !input.optional && !seen.has(input.name)).map((input) => input.name);
  if (missing.length > 0) {
    throw new InferenceError(
      'INVALID_ARG',
      `expected ${config.input.length} inputs but got ${request.inputs.length} inputs for model '${modelName}'; missing required input(s) ${missing.map((m) => `'${m}'`).join(', ')}`,
    );
  }

  const outputNames = request.outputs?.length ? request.outputs.map((output) => output.name) : config.output.map((output) => output.name);
  const known = new Set(config.output.map((output) => output.name));
  const requested = new Set<string>();
  for (const name of outputNames) {
    if (!known.has(name)) throw new InferenceError('INVALID_ARG', `unexpected inference output '${name}' for model '${modelName}'`);
    if (requested.has(name)) throw new InferenceError('INVALID_ARG', `output '${name}' is requested more than once for model '${modelName}'`);
    requested.add(name);
  }
  return { request, inputs, outputNames, batchSize };
}

/** Undoes a config `reshape` on an output so that the client sees the configured dims. */
export function restoreOutputShape(config: ModelConfig, output: Tensor, batchSize: number): Tensor {
  const spec = config.output.find((o) => o.name === output.name);
  if (!spec?.reshape || spec.dims.includes(-1)) return output;
  return { ...output, shape: config.max_batch_size > 0 ? [batchSize, ...spec.dims] : [...spec.dims] };
}
