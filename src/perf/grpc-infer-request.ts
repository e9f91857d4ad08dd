/**
 * Each planned request as the serialized bytes of one ModelInferRequest with its
 * tensors in `raw_input_contents` (little-endian, BYTES elements length-prefixed),
 * as perf_analyzer sends them: encoded once, so that a call costs no protobuf work.
 */
import type { Parameters } from '../core/index.js';
import { inferenceMethod } from './grpc-proto.js';
import { rawTensorBytes } from './raw-tensor.js';
import type { SharedMemoryPlaces } from './http-infer-request.js';
import type { PlannedRequest } from './request-plan.js';
import type { SharedMemoryPlace } from './shared-memory.js';

const shmParameters = (place: SharedMemoryPlace) => ({
  shared_memory_region: { string_param: place.region },
  shared_memory_byte_size: { int64_param: place.byteSize },
  shared_memory_offset: { int64_param: place.offset },
});

/** A request parameter as an InferParameter: booleans, integers (int64) and strings. */
function inferParameter(value: string | number | boolean) {
  if (typeof value === 'boolean') return { bool_param: value };
  if (typeof value === 'number') return { int64_param: value };
  return { string_param: value };
}

/** With `shm`, every tensor is described by its place in shared memory and no raw contents travel. */
export function encodeGrpcInferRequest(request: PlannedRequest, model: string, version: string, parameters: Parameters, shm?: SharedMemoryPlaces): Buffer {
  const requestLevel = Object.fromEntries(Object.entries(parameters).map(([name, value]) => [name, inferParameter(value)]));
  const message = shm
    ? {
        model_name: model,
        model_version: version,
        parameters: requestLevel,
        inputs: request.map((t, i) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: shmParameters(shm.inputs[i]) })),
        outputs: shm.outputs.map((o) => ({ name: o.name, parameters: shmParameters(o) })),
      }
    : {
        model_name: model,
        model_version: version,
        parameters: requestLevel,
        inputs: request.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
        raw_input_contents: request.map(rawTensorBytes),
      };
  return inferenceMethod('ModelInfer').requestSerialize(message);
}
