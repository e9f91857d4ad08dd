import type { NvmlReading } from '../backends/index.js';

/** One GPU's readings as NVML gives them (the CUDA addon's, src/backends/cuda/cuda-addon.ts). */
export type GpuReading = NvmlReading;

export interface GpuValues {
  uuid: string;
  utilization: number;
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  powerUsageWatts: number;
  powerLimitWatts: number;
  /** Since this server started: `nv_energy_consumption`. */
  energyJoules: number;
}

/**
 * The GPUs' utilisation, memory, power and energy (`nv_gpu_*`, `nv_energy_consumption`,
 * label `gpu_uuid`), sampled every `--metrics-interval-ms` as Triton samples them. The
 * reader is passed in by the server, so that metrics/ does not load native code.
 */
export class GpuMetrics {
  readonly devices: GpuValues[];
  private readonly baselineJoules: number[];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    uuids: readonly string[],
    private readonly read: (uuid: string) => GpuReading,
  ) {
    this.devices = uuids.map((uuid) => ({ uuid, utilization: 0, memoryTotalBytes: 0, memoryUsedBytes: 0, powerUsageWatts: 0, powerLimitWatts: 0, energyJoules: 0 }));
    this.baselineJoules = uuids.map((uuid) => this.read(uuid).energyJoules ?? 0);
    this.sample();
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): void {
    this.devices.forEach((device, index) => {
      const reading = this.read(device.uuid);
      if (reading.error) return;
      device.utilization = reading.utilization;
      device.memoryTotalBytes = reading.memoryTotalBytes;
      device.memoryUsedBytes = reading.memoryUsedBytes;
      device.powerUsageWatts = reading.powerUsageWatts;
      device.powerLimitWatts = reading.powerLimitWatts;
      device.energyJoules = Math.max(0, reading.energyJoules - this.baselineJoules[index]);
    });
  }
}
