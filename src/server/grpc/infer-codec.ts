/**
 * ModelInferRequest wire bytes → InferenceRequest, and InferenceResponse →
 * ModelInferResponse / ModelStreamInferResponse wire bytes. Inputs come as typed
 * `contents` or as `raw_input_contents`; outputs always go back raw, as Triton
 * answers. Messages follow Triton's wording where clients match on it.
 */
import {
  allocateTensorData,
  elementCount,
  InferenceError,
  isDatatype,
  type InferenceRequest,
  type InferenceResponse,
  tensorDataFromBytes,
  tensorDataToBytes,
  type RequestedOutput,
  type Tensor,
  type TensorData,
} from '../../core/index.js';
import {
  decodeMessage,
  encodeMessage,
  int64ToNumber,
  type InferInputTensorMessage,
  type InferRequestedOutputTensorMessage,
  type ModelInferRequestMessage,
  type ParameterMap,
} from './grpc-messages.js';
import { parametersFromWire, parametersToWire } from './infer-parameters.js';
import { hasContents, tensorDataFromContents } from './tensor-contents.js';

const invalid = (message: string) => new InferenceError('INVALID_ARG', message);

/** Parameters that name a capability Nereid does not have yet; accepting them silently would give wrong answers. */
const UNSUPPORTED_INPUT_PARAMETERS = ['shared_memory_region', 'shared_memory_offset', 'shared_memory_byte_size'];
const UNSUPPORTED_OUTPUT_PARAMETERS = ['classification', ...UNSUPPORTED_INPUT_PARAMETERS];

function refuseUnsupported(map: ParameterMap, keys: readonly string[], where: string): void {
  for (const key of keys) {
    if (key in map) {
      const what = key === 'classification' ? 'the classification extension' : 'shared memory';
      throw new InferenceError('UNSUPPORTED', `${where}: parameter '${key}' asks for ${what}, which Nereid does not support yet`);
    }
  }
}

/** Decodes the protobuf message only; `inferenceRequestFrom` checks and converts it. */
export function parseModelInferRequest(bytes: Uint8Array): ModelInferRequestMessage {
  return decodeMessage<ModelInferRequestMessage>('ModelInferRequest', bytes);
}

function decodeShape(input: InferInputTensorMessage): number[] {
  const shape = input.shape.map(int64ToNumber);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(`input '${input.name}': shape [${shape.join(',')}] must hold non-negative integers`);
  }
  return shape;
}

function decodeInput(message: ModelInferRequestMessage, input: InferInputTensorMessage, index: number): Tensor {
  const { name, datatype } = input;
  const model = message.model_name;
  if (!isDatatype(datatype)) throw invalid(`input '${name}': unknown datatype '${datatype}'`);
  refuseUnsupported(input.parameters, UNSUPPORTED_INPUT_PARAMETERS, `input '${name}'`);
  const shape = decodeShape(input);
  const raw = message.raw_input_contents;
  let data: TensorData;
  if (raw.length > 0) {
    if (hasContents(input.contents)) {
      throw invalid(`contents field must not be specified when using raw_input_contents for '${name}' for model '${model}'`);
    }
    data = tensorDataFromBytes(`input '${name}'`, datatype, shape, raw[index]);
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
  const where = `output '${output.name}'`;
  refuseUnsupported(output.parameters, UNSUPPORTED_OUTPUT_PARAMETERS, where);
  const parameters = parametersFromWire(output.parameters, where);
  return parameters ? { name: output.name, parameters } : { name: output.name };
}

export function inferenceRequestFrom(message: ModelInferRequestMessage): InferenceRequest {
  const raw = message.raw_input_contents;
  if (raw.length > 0 && raw.length !== message.inputs.length) {
    throw invalid(
      `model '${message.model_name}': the request has ${message.inputs.length} inputs but ${raw.length} raw_input_contents; ` +
        `give raw contents for every input, in the order of 'inputs', or for none`,
    );
  }
  const request: InferenceRequest = {
    model: message.model_name,
    inputs: message.inputs.map((input, i) => decodeInput(message, input, i)),
  };
  if (message.model_version !== '') request.version = message.model_version;
  if (message.id !== '') request.id = message.id;
  if (message.outputs.length > 0) request.outputs = message.outputs.map(decodeRequestedOutput);
  const parameters = parametersFromWire(message.parameters, 'request');
  if (parameters) request.parameters = parameters;
  return request;
}

export function decodeModelInferRequest(bytes: Uint8Array): InferenceRequest {
  return inferenceRequestFrom(parseModelInferRequest(bytes));
}

/** ModelInferResponse as a plain object for protobufjs: outputs described in `outputs`, their bytes in `raw_output_contents`. */
function inferResponseMessage(response: InferenceResponse): object {
  const message: Record<string, unknown> = {
    model_name: response.model,
    model_version: response.version,
    outputs: response.outputs.map((output) => ({ name: output.name, datatype: output.datatype, shape: output.shape })),
    raw_output_contents: response.outputs.map((output) => tensorDataToBytes(output.datatype, output.data)),
  };
  if (response.id) message.id = response.id;
  if (response.parameters) message.parameters = parametersToWire(response.parameters);
  return message;
}

export function encodeModelInferResponse(response: InferenceResponse): Buffer {
  return encodeMessage('ModelInferResponse', inferResponseMessage(response));
}

export function encodeStreamInferResponse(response: InferenceResponse): Buffer {
  return encodeMessage('ModelStreamInferResponse', { infer_response: inferResponseMessage(response) });
}

/**
 * A failed stream request. Triton sends only `error_message`; Nereid also fills
 * the model, version and id of the request (when it could be read) so that a
 * client with several requests in flight can tell which one failed.
 */
export function encodeStreamInferError(message: string, request: ModelInferRequestMessage | undefined): Buffer {
  const value: Record<string, unknown> = { error_message: message };
  if (request) {
    value.infer_response = { model_name: request.model_name, model_version: request.model_version, id: request.id };
  }
  return encodeMessage('ModelStreamInferResponse', value);
}
