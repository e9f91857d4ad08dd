/**
 * Runs inside one worker thread per model instance: owns one InferenceSession so
 * that session.run never blocks the main thread's sockets.
 */
import { workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ExecutionBatch, ExecutionTiming, TensorSignature } from '../backend.js';
import { byteElementStrings, packBytes, steadyNowNs as nowNs, type PackedBytes, type Tensor } from '../../core/index.js';
import { hostInstance, type HostedInstance } from '../worker-host.js';
import { transferList } from '../worker-protocol.js';
import { datatypeOfOrtType, explainLoadError, ortTypeOf } from './onnx-types.js';
import type { SessionWorkerData } from './session-options.js';

const init = workerData as SessionWorkerData;

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
    // onnxruntime-node holds strings as JavaScript strings: this is where BYTES stop being byte-exact.
    return new ort.Tensor('string', byteElementStrings(tensor.data as PackedBytes), tensor.shape);
  }
  return new ort.Tensor(type as 'float32', tensor.data as Float32Array, tensor.shape);
}

function fromOrt(name: string, tensor: ort.Tensor): Tensor {
  const datatype = datatypeOfOrtType(tensor.type);
  if (datatype === undefined) throw new Error(`output '${name}': onnxruntime type ${tensor.type} has no KServe datatype`);
  const shape = tensor.dims.map(Number);
  if (datatype === 'BYTES') {
    return { name, datatype, shape, data: packBytes(tensor.data as string[]) };
  }
  return { name, datatype, shape, data: tensor.data as Float32Array };
}

async function load(): Promise<HostedInstance> {
  const session = await ort.InferenceSession.create(init.modelPath, {
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: init.interOpThreads,
    graphOptimizationLevel: init.graphOptimizationLevel,
    executionMode: 'sequential',
    ...(init.gpuDevice === undefined ? {} : { executionProviders: [{ name: 'cuda', deviceId: init.gpuDevice }] }),
  }).catch((err: Error) => {
    throw new Error(explainLoadError(err.message));
  });
  let lastInferEnd = 0;
  return {
    signature: { inputs: signatureOf(session.inputMetadata), outputs: signatureOf(session.outputMetadata) },
    // session.run runs synchronously in a setImmediate callback: overlapping calls still
    // run one at a time, and the results of several finish within one turn.
    overlappingExecutes: true,
    async execute(batch: ExecutionBatch) {
      const start = nowNs();
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of batch.inputs) feeds[input.name] = toOrt(input);
      const queuedAt = nowNs();
      const results = await session.run(feeds, batch.outputNames);
      const inferEnd = nowNs();
      // An overlapping execution queued behind another starts when that one ends.
      const inferStart = Math.max(queuedAt, lastInferEnd);
      lastInferEnd = inferEnd;
      const outputs = batch.outputNames.map((name) => fromOrt(name, results[name]));
      // Its inputs were converted on arrival; the execution is laid out as if that came
      // right before the run, so that its spans follow each other from startNs.
      const inputNs = queuedAt - start;
      const timing: ExecutionTiming = { startNs: inferStart - inputNs, inputNs, inferNs: inferEnd - inferStart, outputNs: nowNs() - inferEnd };
      return { result: { kind: 'batch', outputs, timing }, transfer: [...transferList(outputs)] };
    },
    close: () => session.release(),
  };
}

void hostInstance(load);
