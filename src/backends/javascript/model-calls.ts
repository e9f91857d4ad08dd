/**
 * Business logic scripting, on the worker's side: a model's infer() calls become
 * 'call' messages to the main thread, which passes them to the called model's
 * scheduler; the answers come back as 'call-result' commands.
 */
import { elementCount, isDatatype, isPackedBytes, storedElementCount, type Datatype, type Tensor } from '../../core/index.js';
import type { Outbox } from '../outbox.js';
import { transferList, type CallOutcome, type CallRequest, type WorkerReply } from '../worker-protocol.js';
import type { ModelInferError, ModelInferRequest, ModelInferResponse, ModelOutputTensor } from './model-api.js';
import { modelTensor } from './model-requests.js';
import { tensorStorage } from './model-responses.js';

/** The datatype a typed array says by itself; the ambiguous ones (Uint8Array, Uint16Array) say the plain integer type. */
const DATATYPE_OF_ARRAY = new Map<Function, Datatype>([
  [Float32Array, 'FP32'],
  [Float64Array, 'FP64'],
  [Int8Array, 'INT8'],
  [Int16Array, 'INT16'],
  [Int32Array, 'INT32'],
  [BigInt64Array, 'INT64'],
  [Uint8Array, 'UINT8'],
  [Uint16Array, 'UINT16'],
  [Uint32Array, 'UINT32'],
  [BigUint64Array, 'UINT64'],
]);

function datatypeOf(label: string, value: ModelOutputTensor): Datatype {
  if (value.datatype !== undefined) {
    if (!isDatatype(value.datatype)) throw new TypeError(`${label}: unknown datatype '${String(value.datatype)}'`);
    return value.datatype;
  }
  const implied = ArrayBuffer.isView(value.data) ? DATATYPE_OF_ARRAY.get(value.data.constructor) : undefined;
  if (implied) return implied;
  if (Array.isArray(value.data) && value.data.every((element) => typeof element === 'string')) return 'BYTES';
  if (isPackedBytes(value.data)) return 'BYTES';
  throw new TypeError(`${label}: give its datatype: its data (${Array.isArray(value.data) ? 'an array' : typeof value.data}) does not say it`);
}

function inputTensor(model: string, name: string, value: unknown): Tensor {
  const label = `infer() to model '${model}': input '${name}'`;
  if (typeof value !== 'object' || value === null) throw new TypeError(`${label} must be an object { datatype, shape, data }`);
  const tensor = value as ModelOutputTensor;
  const datatype = datatypeOf(label, tensor);
  const { shape } = tensor;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new TypeError(`${label}: shape must be an array of non-negative integers`);
  let data: Tensor['data'];
  try {
    data = tensorStorage(label, datatype, tensor.data);
  } catch (err) {
    throw new TypeError((err as Error).message);
  }
  const count = storedElementCount(data);
  if (count !== elementCount(shape)) throw new TypeError(`${label} has ${count} values but shape [${shape.join(',')}] needs ${elementCount(shape)}`);
  return { name, datatype, shape: [...shape], data };
}

function callRequest(request: ModelInferRequest): CallRequest {
  if (typeof request !== 'object' || request === null || typeof request.model !== 'string' || request.model === '') {
    throw new TypeError("infer() needs a request object with the name of a model: infer({ model: 'name', inputs: { … } })");
  }
  const { model } = request;
  const given = request.inputs;
  if (typeof given !== 'object' || given === null) throw new TypeError(`infer() to model '${model}': 'inputs' must be an object keyed by input name, or an array of named tensors`);
  const inputs = Array.isArray(given)
    ? given.map((tensor, i) => inputTensor(model, typeof tensor?.name === 'string' ? tensor.name : `#${i}`, tensor))
    : Object.entries(given).map(([name, tensor]) => inputTensor(model, name, tensor));
  const call: CallRequest = { model, inputs };
  if (request.version !== undefined) call.version = String(request.version);
  if (request.id !== undefined) call.id = String(request.id);
  if (request.outputs !== undefined) {
    if (!Array.isArray(request.outputs) || !request.outputs.every((o) => typeof o === 'string')) {
      throw new TypeError(`infer() to model '${model}': 'outputs' must be an array of output names`);
    }
    call.outputs = [...request.outputs];
  }
  if (request.parameters !== undefined) call.parameters = { ...request.parameters };
  return call;
}

interface PendingCall {
  resolve(response: ModelInferResponse): void;
  reject(error: Error): void;
}

export class ModelCalls {
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 0;

  constructor(private readonly toMainThread: Outbox<WorkerReply>) {}

  /** The infer() that execute() receives in its context. */
  readonly infer = (request: ModelInferRequest): Promise<ModelInferResponse> => {
    let call: CallRequest;
    try {
      call = callRequest(request);
    } catch (err) {
      // Refused here as the server would refuse it: a bad request.
      (err as ModelInferError).code = 'INVALID_ARG';
      return Promise.reject(err);
    }
    const id = this.nextId++;
    return new Promise<ModelInferResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.toMainThread.post({ type: 'call', id, request: call }, [...transferList(call.inputs)], (err) => {
        this.pending.delete(id);
        reject(err);
      });
    });
  };

  /** Settles the infer() call `id` with the server's answer. */
  settle(id: number, outcome: CallOutcome): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if ('error' in outcome) {
      const error = new Error(outcome.error.message) as ModelInferError;
      error.code = outcome.error.code;
      return pending.reject(error);
    }
    const { response } = outcome;
    const answer: ModelInferResponse = {
      model: response.model,
      version: response.version,
      outputs: Object.fromEntries(response.outputs.map((o) => [o.name, modelTensor(o.name, o.datatype, o.shape, o.data)])),
    };
    if (response.id !== undefined) answer.id = response.id;
    pending.resolve(answer);
  }
}
