/** What runs a dense plan for a cuda backend instance: the GPU (the addon), the CPU reference, or a fake device. */
import type { DeviceSpan } from '../../core/index.js';

/** One input of a device run: host values, or the spans (one per request, in row order) to gather on the device. */
export type DeviceRunInput = Float32Array | DeviceSpan[];

/** One plan output of a device run: the spans its rows are scattered to, and whether the host needs the whole batch too. */
export interface DeviceRunOutput {
  host: boolean;
  scatter: { rowStart: number; rows: number; span: DeviceSpan }[];
}

export interface DenseRunner {
  run(rows: number, inputs: Float32Array[]): Promise<Float32Array[]>;
  /** The direct device path; the outputs not wanted on the host come back empty. */
  runDevice(rows: number, inputs: DeviceRunInput[], outputs: DeviceRunOutput[]): Promise<Float32Array[]>;
  close(): void;
}
