/**
 * InferenceResponse → the body of a `…/infer` answer. Each output goes back as JSON
 * `data`, as binary data after the JSON header (`binary_data: true` on the requested
 * output, or `binary_data_output: true` on the request for every output not asked
 * otherwise), or not at all when it was written into a shared-memory region.
 */
import { tensorDataToBytes, type InferenceRequest, type InferenceResponse, type Parameters } from '../../core/index.js';
import { binaryResponseBody } from './binary-infer-codec.js';
import { encodeJsonData } from './json-infer-codec.js';

export interface EncodedInferResponse {
  body: string | Uint8Array;
  /** Set when binary outputs follow the JSON header: the header's length in bytes. */
  headerLength?: number;
}

export function encodeInferResponse(response: InferenceResponse, request: InferenceRequest): EncodedInferResponse {
  const requested = new Map<string, Parameters | undefined>();
  for (const output of request.outputs ?? []) requested.set(output.name, output.parameters);
  const binaryByDefault = request.parameters?.['binary_data_output'] === true;

  let json = `{"model_name":${JSON.stringify(response.model)},"model_version":${JSON.stringify(response.version)}`;
  if (response.id !== undefined) json += `,"id":${JSON.stringify(response.id)}`;
  if (response.parameters) json += `,"parameters":${JSON.stringify(response.parameters)}`;
  json += ',"outputs":[';
  const parts: Uint8Array[] = [];
  response.outputs.forEach((output, i) => {
    if (i > 0) json += ',';
    json += `{"name":${JSON.stringify(output.name)},"datatype":"${output.datatype}","shape":[${output.shape.join(',')}]`;
    const parameters = requested.get(output.name);
    if (parameters?.['shared_memory_region'] !== undefined) {
      // Written into the client's region by the data plane; the client reads it there.
    } else if ((parameters?.['binary_data'] as boolean | undefined) ?? binaryByDefault) {
      const bytes = tensorDataToBytes(output.datatype, output.data);
      json += `,"parameters":{"binary_data_size":${bytes.byteLength}}`;
      if (bytes.byteLength > 0) parts.push(bytes);
    } else {
      json += `,"data":${encodeJsonData(output)}`;
    }
    json += '}';
  });
  json += ']}';
  if (parts.length === 0) return { body: json };
  return binaryResponseBody(json, parts);
}
