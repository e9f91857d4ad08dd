/**
 * Tensor values that stay in device memory: an input read from a client's CUDA shared
 * memory region. Only the cuda backend, on the region's device, reads them there (its
 * direct device path); every other consumer gets host values, copied once from the
 * region by materializeDeviceInputs() or hostTensorData().
 *
 * To leave the Tensor type and everything that passes tensors along untouched, such an
 * input's `data` is a placeholder: a typed array of length 0 that this module maps to its
 * DeviceTensorData. Whatever copies or slices the placeholder drops the mapping, and a
 * consumer that ignores it sees 0 values where the shape wants more, which every backend
 * refuses; the server materializes device inputs before any such consumer can see them.
 */
import type { Datatype } from './datatype.js';
import type { InferenceRequest } from './inference.js';
import { typedArrayFor, type NumericArray, type Tensor, type TensorData } from './tensor.js';

/**
 * Bytes in device memory, in a form that crosses to a worker thread by structured clone.
 * `pointer` is a CUDA device address, valid in every thread of the process. A fake
 * device (tests, machines without a GPU) keeps its memory in `sharedBuffer`, and
 * `pointer` is then the byte offset in it.
 */
export interface DeviceSpan {
  deviceId: number;
  pointer: bigint;
  byteSize: number;
  sharedBuffer?: SharedArrayBuffer;
}

/**
 * One piece of device memory as the main thread holds it: where it is, and how to copy it
 * to the host (the fallback). `pin()` keeps it mapped until the returned release is called,
 * even if its region is unregistered meanwhile (the server pins a request's device tensors
 * until the request is answered). `use()` pins it too and gives its span for an execution;
 * it throws an InferenceError naming the tensor when the memory has gone.
 */
export interface DeviceBytes {
  readonly deviceId: number;
  readonly byteSize: number;
  pin(): () => void;
  use(): { span: DeviceSpan; release(): void };
  readHost(target: Uint8Array): void;
}

/** The values of one tensor in device memory: the parts (one per request once batched) in row order. */
export class DeviceTensorData {
  constructor(
    readonly datatype: Exclude<Datatype, 'BYTES'>,
    readonly length: number,
    readonly parts: readonly DeviceBytes[],
  ) {}

  /** The device all parts are on, or undefined when they are on several. */
  get deviceId(): number | undefined {
    const [first] = this.parts;
    return this.parts.every((p) => p.deviceId === first.deviceId) ? first.deviceId : undefined;
  }

  /** The host fallback: every part copied from the device into one fresh array. */
  toHost(): NumericArray {
    const data = new (typedArrayFor(this.datatype))(this.length);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let at = 0;
    for (const part of this.parts) {
      part.readHost(bytes.subarray(at, at + part.byteSize));
      at += part.byteSize;
    }
    return data;
  }
}

const placeholders = new WeakMap<object, DeviceTensorData>();

/** The placeholder `data` of a tensor whose values are `device`. */
export function deviceTensorPlaceholder(device: DeviceTensorData): TensorData {
  const placeholder = new (typedArrayFor(device.datatype))(0);
  placeholders.set(placeholder, device);
  return placeholder;
}

/** The device values behind `data`, or undefined when `data` holds its values itself. */
export function deviceTensorData(data: TensorData): DeviceTensorData | undefined {
  return placeholders.get(data);
}

/** `data` itself, or its values copied from the device. */
export function hostTensorData(data: TensorData): TensorData {
  return placeholders.get(data)?.toHost() ?? data;
}

/** The request with every device input copied to the host: what any consumer but the cuda backend's device path needs. */
export function materializeDeviceInputs(request: InferenceRequest): void {
  for (let i = 0; i < request.inputs.length; i++) {
    const tensor = request.inputs[i];
    const device = placeholders.get(tensor.data);
    if (device) request.inputs[i] = { ...tensor, data: device.toHost() };
  }
}

/**
 * The batch of `parts` (one per request, rows in order) when some are device values: device
 * values again when all are on one device, else host values, the device parts copied.
 */
export function concatDeviceParts(parts: readonly Tensor[], shape: number[]): Tensor | undefined {
  if (!parts.some((part) => placeholders.has(part.data))) return undefined;
  const devices = parts.map((part) => placeholders.get(part.data));
  const [first] = parts;
  const datatype = first.datatype as Exclude<Datatype, 'BYTES'>;
  const onOneDevice = devices.every((d) => d !== undefined && d.deviceId !== undefined && d.deviceId === devices[0]!.deviceId);
  if (onOneDevice) {
    const joined = new DeviceTensorData(datatype, devices.reduce((n, d) => n + d!.length, 0), devices.flatMap((d) => d!.parts));
    return { name: first.name, datatype, shape, data: deviceTensorPlaceholder(joined) };
  }
  const hosts = parts.map((part, k) => devices[k]?.toHost() ?? (part.data as NumericArray));
  const data = new (typedArrayFor(datatype))(hosts.reduce((n, h) => n + h.length, 0));
  let at = 0;
  for (const host of hosts) {
    (data as Float32Array).set(host as Float32Array, at);
    at += host.length;
  }
  return { name: first.name, datatype, shape, data };
}

/**
 * Where one request's output goes in device memory (a CUDA shared memory region), for the
 * cuda backend's device path to write it there. `written` is set once it has, so that the
 * host copy of the output is not written over it.
 */
export interface DeviceOutputTarget {
  readonly deviceId: number;
  readonly byteSize: number;
  /** As DeviceBytes.pin(). */
  pin(): () => void;
  /** The span to write, pinned until released; undefined when the region was unregistered (the host write then refuses the output with the reason). */
  use(): { span: DeviceSpan; release(): void } | undefined;
  written: boolean;
}

/** Pins every device input of `request` and its device output targets; the release lets go of them all. */
export function pinDeviceTensors(request: InferenceRequest): (() => void) | undefined {
  const releases: (() => void)[] = [];
  for (const tensor of request.inputs) {
    const device = placeholders.get(tensor.data);
    if (device) for (const part of device.parts) releases.push(part.pin());
  }
  for (const target of request.deviceOutputs?.values() ?? []) releases.push(target.pin());
  return releases.length === 0 ? undefined : () => releases.splice(0).forEach((release) => release());
}
