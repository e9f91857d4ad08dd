/**
 * The cuda backend's direct device path, main-thread side. An execution whose inputs are
 * in device memory (CUDA shared memory regions, core/device-tensor.ts) on the device of
 * this instance, or whose requests want outputs there, is sent to the worker as device
 * spans: the worker gathers the requests' input spans into one batch buffer on the device
 * (device-to-device copies), runs the plan there, and scatters each request's output rows
 * into its region; nothing passes through host memory. Device inputs on another device,
 * or for an instance on the CPU, are copied to the host here (the host fallback), and
 * outputs go back to the host for every request that did not give a region on this device.
 */
import { deviceTensorData, type DeviceSpan, type Tensor } from '../../core/index.js';
import type { BatchRequest, ExecutionBatch, ModelSignature } from '../backend.js';

/** An input whose values are device spans, one per request in row order; its `data` is empty. */
export interface DeviceInputTensor extends Tensor {
  deviceSpans: DeviceSpan[];
}

/** Where one output's rows go: for each request (in order, `rows` rows each), a span or none; `host` when some request wants them in host memory. */
export interface DeviceOutputPlan {
  name: string;
  host: boolean;
  spans: (DeviceSpan | null)[];
}

/** The batch as the worker receives it on the device path. */
export interface DeviceExecutionBatch extends ExecutionBatch {
  /** Rows of each request. */
  requestRows: number[];
  deviceOutputs: DeviceOutputPlan[];
}

export function isDeviceInput(tensor: Tensor): tensor is DeviceInputTensor {
  return Array.isArray((tensor as DeviceInputTensor).deviceSpans);
}

/** Values per row of each output the signature fixes (-1 dims: unknown, those outputs go to the host). */
function rowWidths(signature: ModelSignature): Map<string, number> {
  const widths = new Map<string, number>();
  for (const output of signature.outputs) {
    const perRow = output.shape.slice(1);
    if (perRow.length > 0 && perRow.every((d) => d >= 0)) widths.set(output.name, perRow.reduce((a, b) => a * b, 1));
  }
  return widths;
}

/**
 * The batch to send to an instance on `gpuDevice` (undefined: on the CPU) and what to do
 * once it has run: `release` lets go of the regions it uses, `written` marks the outputs
 * the device wrote (so that they are not written again from the host). Throws (an
 * InferenceError naming the tensor) when a region has gone; nothing is held then.
 */
export function deviceBatch(batch: ExecutionBatch, gpuDevice: number | undefined, signature: ModelSignature): { batch: ExecutionBatch; release(): void; written(): void } {
  const releases: (() => void)[] = [];
  const release = () => releases.splice(0).forEach((r) => r());
  const marks: (() => void)[] = [];
  try {
    let onDevice = false;
    const inputs = batch.inputs.map((tensor): Tensor => {
      const device = deviceTensorData(tensor.data);
      if (!device) return tensor;
      if (gpuDevice === undefined || device.deviceId !== gpuDevice || device.datatype !== 'FP32') return { ...tensor, data: device.toHost() };
      onDevice = true;
      const deviceSpans = device.parts.map((part) => {
        const used = part.use();
        releases.push(used.release);
        return used.span;
      });
      const input: DeviceInputTensor = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, data: new Float32Array(0), deviceSpans };
      return input;
    });
    const deviceOutputs = gpuDevice === undefined ? [] : outputPlans(batch.requests, batch.outputNames, gpuDevice, signature, releases, marks);
    if (!onDevice && deviceOutputs.every((plan) => plan.spans.every((span) => span === null))) {
      release();
      // The worker computes tensors only: the per-request part is left out of the message.
      const host: ExecutionBatch = { inputs, outputNames: batch.outputNames, requests: [] };
      if (batch.cancelled) host.cancelled = batch.cancelled;
      return { batch: host, release: () => undefined, written: () => undefined };
    }
    const sent: DeviceExecutionBatch = {
      inputs,
      outputNames: batch.outputNames,
      requests: [],
      requestRows: batch.requests.map((r: BatchRequest) => r.rows),
      deviceOutputs,
    };
    if (batch.cancelled) sent.cancelled = batch.cancelled;
    return { batch: sent, release, written: () => marks.forEach((mark) => mark()) };
  } catch (err) {
    release();
    throw err;
  }
}

function outputPlans(
  requests: readonly BatchRequest[],
  outputNames: readonly string[],
  gpuDevice: number,
  signature: ModelSignature,
  releases: (() => void)[],
  marks: (() => void)[],
): DeviceOutputPlan[] {
  if (!requests.some((r) => r.deviceOutputs)) return outputNames.map((name) => ({ name, host: true, spans: [] }));
  const widths = rowWidths(signature);
  return outputNames.map((name) => {
    const width = widths.get(name);
    let host = false;
    const spans = requests.map((request) => {
      const target = request.deviceOutputs?.get(name);
      // A region too small for the rows, or unregistered meanwhile, is left to the host write, which refuses it with the reason.
      const used = target && width !== undefined && target.deviceId === gpuDevice && target.byteSize >= request.rows * width * 4 ? target.use() : undefined;
      if (!target || !used || width === undefined) {
        if (request.outputNames.includes(name)) host = true;
        return null;
      }
      releases.push(used.release);
      marks.push(() => (target.written = true));
      return { ...used.span, byteSize: request.rows * width * 4 };
    });
    return { name, host, spans };
  });
}
