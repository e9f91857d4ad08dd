/**
 * Runs inside one worker thread per model instance: owns one InferenceSession so
 * that session.run never blocks the main thread's sockets.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ExecutionTiming, ModelSignature, TensorSignature } from '../backend.js';
import type { Tensor } from '../../core/index.js';
import type { SessionWorkerData, WorkerReply, WorkerRequest } from './worker-protocol.js';
import { datatypeOfOrtType, ortTypeOf } from './onnx-types.js';

const port = parentPort!;
const init = workerData as SessionWorkerData;
const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

function signatureOf(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] {
  return metadata.map((value) => {
    if (!value.isTensor) return { name: value.name, datatype: undefined, nativeType: 'non-tensor', shape: [] };
    return {
      name: value.name,
      datatype: datatypeOfOrtType(value.type),
      nativeType: value.type,
      shape: value.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
    };
  });
}

function toOrt(tensor: Tensor): ort.Tensor {
  const type = ortTypeOf(tensor.datatype);
  if (type === undefined) throw new Error(`input '${tensor.name}': datatype ${tensor.datatype} is not supported by onnxruntime`);
  if (tensor.datatype === 'BYTES') {
    const strings = (tensor.data as Uint8Array[]).map((bytes) => utf8Decoder.decode(bytes));
    return new ort.Tensor('string', strings, tensor.shape);
  }
  return new ort.Tensor(type as 'float32', tensor.data as Float32Array, tensor.shape);
}

function fromOrt(name: string, tensor: ort.Tensor, transfer: ArrayBuffer[]): Tensor {
  const datatype = datatypeOfOrtType(tensor.type);
  if (datatype === undefined) throw new Error(`output '${name}': onnxruntime type ${tensor.type} has no KServe datatype`);
  const shape = tensor.dims.map(Number);
  if (datatype === 'BYTES') {
    return { name, datatype, shape, data: (tensor.data as string[]).map((s) => utf8Encoder.encode(s)) };
  }
  const data = tensor.data as Float32Array;
  transfer.push(data.buffer as ArrayBuffer);
  return { name, datatype, shape, data };
}

const nowNs = () => Number(process.hrtime.bigint());

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(init.modelPath, {
      intraOpNumThreads: init.intraOpThreads,
      interOpNumThreads: init.interOpThreads,
      graphOptimizationLevel: init.graphOptimizationLevel,
      executionMode: 'sequential',
    });
  } catch (err) {
    port.postMessage({ type: 'load-error', message: (err as Error).message } satisfies WorkerReply);
    return;
  }
  const signature: ModelSignature = { inputs: signatureOf(session.inputMetadata), outputs: signatureOf(session.outputMetadata) };
  port.postMessage({ type: 'ready', signature } satisfies WorkerReply);

  port.on('message', async (request: WorkerRequest) => {
    try {
      const start = nowNs();
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of request.inputs) feeds[input.name] = toOrt(input);
      const inferStart = nowNs();
      const results = await session.run(feeds, request.outputNames);
      const inferEnd = nowNs();
      const transfer: ArrayBuffer[] = [];
      const outputs = request.outputNames.map((name) => fromOrt(name, results[name], transfer));
      const timing: ExecutionTiming = { inputNs: inferStart - start, inferNs: inferEnd - inferStart, outputNs: nowNs() - inferEnd };
      port.postMessage({ type: 'result', id: request.id, outputs, timing } satisfies WorkerReply, transfer);
    } catch (err) {
      port.postMessage({ type: 'error', id: request.id, message: (err as Error).message } satisfies WorkerReply);
    }
  });
}

void main();
