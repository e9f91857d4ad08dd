/**
 * One instance of `backend: "cuda"` in its own worker thread: compiles the ONNX model
 * into a dense plan, then runs it on its GPU through the addon (one CUDA stream per
 * instance, the work itself on a libuv thread) or, for KIND_CPU, with the CPU reference.
 * A batch with device spans (device-batch.ts) runs on the direct device path.
 */
import { workerData } from 'node:worker_threads';
import type { ExecutionBatch, TensorSignature } from '../backend.js';
import { steadyNowNs as nowNs, type Tensor } from '../../core/index.js';
import { hostInstance, type HostedInstance } from '../worker-host.js';
import { transferList } from '../worker-protocol.js';
import { cudaAddon } from './cuda-addon.js';
import { compileDenseGraph } from './dense-graph.js';
import type { DensePlan } from './dense-plan.js';
import { DenseReference } from './dense-reference.js';
import type { DenseRunner, DeviceRunInput, DeviceRunOutput } from './dense-runner.js';
import type { DenseWorkerData } from './dense-worker-data.js';
import { isDeviceInput, type DeviceExecutionBatch } from './device-batch.js';
import { fakeCudaDeviceCount, FakeDeviceRunner } from './fake-device.js';
import { readOnnxModel, type OnnxValueInfo } from './onnx-model.js';

const init = workerData as DenseWorkerData;

function runnerFor(plan: DensePlan): DenseRunner {
  if (init.gpuDevice === undefined) {
    const reference = new DenseReference(plan);
    return {
      run: async (rows, inputs) => reference.run(rows, inputs),
      runDevice: () => Promise.reject(new Error('an instance on the CPU was given device memory')),
      close: () => undefined,
    };
  }
  if (fakeCudaDeviceCount() > 0) return new FakeDeviceRunner(new DenseReference(plan), init.gpuDevice);
  const { addon, error } = cudaAddon();
  if (!addon) throw new Error(error);
  return new addon.DenseModel(plan, init.gpuDevice);
}

function signatureOf(info: OnnxValueInfo): TensorSignature {
  return { name: info.name, datatype: 'FP32', nativeType: 'tensor(float)', shape: info.dims };
}

async function load(): Promise<HostedInstance> {
  const model = readOnnxModel(init.modelPath);
  const plan = compileDenseGraph(model, init.precision);
  const runner = runnerFor(plan);
  const perRow = (info: OnnxValueInfo, slot: number) => {
    const dims = info.dims.slice(1);
    return dims.every((d) => d >= 0) && dims.reduce((a, b) => a * b, 1) === plan.widths[slot] ? dims : [plan.widths[slot]];
  };
  const outputRows = model.outputs.map((info, i) => perRow(info, plan.outputs[i]));
  /** Per plan output: where each request's rows go, and whether the batch wants them back in host memory. */
  const deviceRunOutputs = (batch: DeviceExecutionBatch): DeviceRunOutput[] =>
    model.outputs.map((info) => {
      const wanted = batch.deviceOutputs.find((o) => o.name === info.name);
      if (!wanted) return { host: false, scatter: [] };
      const scatter: DeviceRunOutput['scatter'] = [];
      let rowStart = 0;
      batch.requestRows.forEach((rows, k) => {
        const span = wanted.spans[k];
        if (span) scatter.push({ rowStart, rows, span });
        rowStart += rows;
      });
      return { host: wanted.host, scatter };
    });
  return {
    signature: { inputs: model.inputs.map(signatureOf), outputs: model.outputs.map(signatureOf) },
    spinWhenIdle: true,
    async execute(batch: ExecutionBatch) {
      const start = nowNs();
      let rows = -1;
      const inputs = model.inputs.map((info, i): DeviceRunInput => {
        const tensor = batch.inputs.find((t) => t.name === info.name);
        if (!tensor) throw new Error(`input '${info.name}' is missing`);
        if (!(tensor.data instanceof Float32Array)) throw new Error(`input '${info.name}': the cuda backend takes FP32, got ${tensor.datatype}`);
        const tensorRows = tensor.shape[0] ?? 1;
        if (rows >= 0 && tensorRows !== rows) throw new Error(`input '${info.name}' has ${tensorRows} rows where the other inputs have ${rows}`);
        rows = tensorRows;
        const expected = rows * plan.widths[plan.inputs[i]];
        if (isDeviceInput(tensor)) {
          const bytes = tensor.deviceSpans.reduce((n, span) => n + span.byteSize, 0);
          if (bytes !== expected * 4) throw new Error(`input '${info.name}': device memory of ${bytes} bytes for shape [${tensor.shape.join(', ')}], which needs ${expected * 4}`);
          return tensor.deviceSpans;
        }
        if (tensor.data.length !== expected) throw new Error(`input '${info.name}': expected ${expected} values for shape [${tensor.shape.join(', ')}], got ${tensor.data.length}`);
        return tensor.data;
      });
      const inferStart = nowNs();
      const device = batch as Partial<DeviceExecutionBatch>;
      const results = device.deviceOutputs
        ? await runner.runDevice(Math.max(rows, 0), inputs, deviceRunOutputs(device as DeviceExecutionBatch))
        : await runner.run(Math.max(rows, 0), inputs as Float32Array[]);
      const inferEnd = nowNs();
      const outputs: Tensor[] = batch.outputNames.map((name) => {
        const index = model.outputs.findIndex((o) => o.name === name);
        if (index < 0) throw new Error(`output '${name}' is not an output of the model`);
        return { name, datatype: 'FP32', shape: [rows, ...outputRows[index]], data: results[index] };
      });
      return {
        result: { kind: 'batch', outputs, timing: { startNs: start, inputNs: inferStart - start, inferNs: inferEnd - inferStart, outputNs: nowNs() - inferEnd } },
        transfer: [...transferList(outputs)],
      };
    },
    close: async () => runner.close(),
  };
}

void hostInstance(load);
