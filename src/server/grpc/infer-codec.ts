/**
 * ModelInferRequest wire bytes → InferenceRequest, and InferenceResponse →
 * ModelInferResponse / ModelStreamInferResponse wire bytes. Inputs come as typed
 * `contents` or as `raw_input_contents`; outputs always go back raw, as Triton
 * answers. Messages follow Triton's wording where clients match on it.
 */
import {
  allocateTensorData,
  checkShapeSize,
  type Datatype,
  elementCount,
  InferenceError,
  isDatatype,
  type InferenceRequest,
  type InferenceResponse,
  noByteElements,
  type Parameters,
  tensorDataFromBytes,
  type RequestedOutput,
  type Tensor,
  type TensorData,
} from '../../core/index.js';
import {
  encodeMessage,
  int64ToNumber,
  type InferInputTensorMessage,
  type InferRequestedOutputTensorMessage,
  type ModelInferRequestMessage,
} from './grpc-messages.js';
import { sharedMemoryReference, type SharedMemoryManager } from '../shared-memory/index.js';
import { parametersFromWire, parametersToWire } from './infer-parameters.js';
import { hasContents, tensorDataFromContents } from './tensor-contents.js';
import { readModelInferRequest } from './infer-wire.js';
import { writeInferResponse } from './infer-response-writer.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

/** Decodes the protobuf message only; `inferenceRequestFrom` checks and converts it. */
export function parseModelInferRequest(bytes: Uint8Array): ModelInferRequestMessage {
  try {
    return readModelInferRequest(bytes);
  } catch (err) {
    throw new InferenceError('INVALID_ARG', `the request is not a valid ModelInferRequest message: ${(err as Error).message}`);
  }
}

function decodeShape(input: InferInputTensorMessage, datatype: Datatype): number[] {
  const shape = input.shape.map(int64ToNumber);
  if (!shape.every((d) => d >= 0)) {
    throw invalid(`input '${input.name}': shape [${shape.join(',')}] must hold non-negative integers`);
  }
  checkShapeSize(`input '${input.name}'`, datatype, shape);
  return shape;
}

/**
 * One input's values: from a shared-memory region, from typed `contents`, or from
 * `raw`, the next of the raw_input_contents (which, as in Triton, are given in input
 * order for the inputs that use neither shared memory nor typed contents).
 */
function decodeInput(
  message: ModelInferRequestMessage,
  input: InferInputTensorMessage,
  raw: Uint8Array | undefined,
  sharedMemory: SharedMemoryManager,
): Tensor {
  const { name, datatype } = input;
  const model = message.model_name;
  const label = `input '${name}'`;
  if (!isDatatype(datatype)) throw invalid(`${label}: unknown datatype '${datatype}'`);
  const shape = decodeShape(input, datatype);
  const reference = sharedMemoryReference(parametersFromWire(input.parameters, label), label);
  let data: TensorData;
  if (reference) {
    if (hasContents(input.contents)) {
      throw invalid(`unexpected 'content' provided when using shared memory for input tensor '${name}' for model '${model}'`);
    }
    data = sharedMemory.readInput(model, name, datatype, shape, reference);
  } else if (raw !== undefined) {
    if (hasContents(input.contents)) {
      throw invalid(`contents field must not be specified when using raw_input_contents for '${name}' for model '${model}'`);
    }
    data = tensorDataFromBytes(label, datatype, shape, raw);
  } else if (hasContents(input.contents)) {
    data = tensorDataFromContents(model, name, datatype, shape, input.contents);
  } else if (elementCount(shape) === 0) {
    data = allocateTensorData(datatype, 0);
  } else {
    throw invalid(`unable to find data for input tensor '${name}' for model '${model}' in request.`);
  }
  return { name, datatype, shape, data };
}

function decodeRequestedOutput(output: InferRequestedOutputTensorMessage): RequestedOutput {
  const parameters = parametersFromWire(output.parameters, `output '${output.name}'`);
  return parameters ? { name: output.name, parameters } : { name: output.name };
}

export function inferenceRequestFrom(message: ModelInferRequestMessage, sharedMemory: SharedMemoryManager): InferenceRequest {
  const raw = message.raw_input_contents;
  const rawInputs = raw.length === 0 ? 0 : message.inputs.filter((input) => !('shared_memory_region' in input.parameters)).length;
  if (raw.length > 0 && raw.length !== rawInputs) {
    const inputs = rawInputs === message.inputs.length ? `${rawInputs} inputs` : `${rawInputs} inputs outside shared memory`;
    throw invalid(
      `model '${message.model_name}': the request has ${inputs} but ${raw.length} raw_input_contents; ` +
        `give raw contents for every input${rawInputs === message.inputs.length ? '' : ' outside shared memory'}, in the order of 'inputs', or for none`,
    );
  }
  let next = 0;
  const request: InferenceRequest = {
    model: message.model_name,
    inputs: message.inputs.map((input) =>
      decodeInput(message, input, raw.length > 0 && !('shared_memory_region' in input.parameters) ? raw[next++] : undefined, sharedMemory),
    ),
  };
  if (message.model_version !== '') request.version = message.model_version;
  if (message.id !== '') request.id = message.id;
  if (message.outputs.length > 0) request.outputs = message.outputs.map(decodeRequestedOutput);
  const parameters = parametersFromWire(message.parameters, 'request');
  if (parameters) request.parameters = parameters;
  return request;
}

export function decodeModelInferRequest(bytes: Uint8Array, sharedMemory: SharedMemoryManager): InferenceRequest {
  return inferenceRequestFrom(parseModelInferRequest(bytes), sharedMemory);
}

/** ModelInferResponse: outputs described in `outputs`, their bytes in `raw_output_contents` (empty for an output in shared memory, as in Triton). */
export function encodeModelInferResponse(response: InferenceResponse, request: InferenceRequest): Buffer {
  return writeInferResponse(response, request, false);
}

/** ModelStreamInferResponse { infer_response }; `finalResponse` sets its `triton_final_response` parameter. */
export function encodeStreamInferResponse(response: InferenceResponse, request: InferenceRequest, finalResponse?: boolean): Buffer {
  return writeInferResponse(response, request, true, finalResponse);
}

/**
 * A failed stream request. Triton sends only `error_message`; Nereid also fills
 * the model, version and id of the request (when it could be read) so that a
 * client with several requests in flight can tell which one failed. `parameters`:
 * `triton_final_response`, for a request that reached a decoupled model.
 */
export function encodeStreamInferError(message: string, request: ModelInferRequestMessage | undefined, parameters?: Parameters): Buffer {
  const value: Record<string, unknown> = { error_message: message };
  if (request) {
    const response: Record<string, unknown> = { model_name: request.model_name, model_version: request.model_version, id: request.id };
    if (parameters) response.parameters = parametersToWire(parameters);
    value.infer_response = response;
  }
  return encodeMessage('ModelStreamInferResponse', value);
}

/** A decoupled model's final flag without a response, as Triton writes it when the request asked for it. */
export function encodeStreamInferEmptyFinal(request: ModelInferRequestMessage): Buffer {
  return encodeMessage('ModelStreamInferResponse', {
    infer_response: {
      model_name: request.model_name,
      model_version: request.model_version,
      id: request.id,
      parameters: parametersToWire({ triton_final_response: true }),
    },
  });
}
