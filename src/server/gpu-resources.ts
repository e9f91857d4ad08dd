import type { Logger } from '../core/index.js';
import { cudaAddon, cudaProbe } from '../backends/index.js';
import { GpuMetrics } from '../metrics/index.js';

/**
 * The GPU metrics of this machine, read from NVML through the CUDA addon, or undefined
 * with a log line that says why there are none (no GPU, no driver, no NVML).
 */
export function gpuMetricsOfMachine(logger: Logger): GpuMetrics | undefined {
  const probe = cudaProbe();
  if (probe.devices.length === 0) {
    logger.info({ reason: probe.reason }, `GPU metrics are not reported: ${probe.reason}`);
    return undefined;
  }
  const { addon } = cudaAddon();
  const nvml = addon!.libraries().nvml;
  if (!nvml.loaded) {
    logger.warn({ reason: nvml.error }, `GPU metrics are not reported: ${nvml.error}`);
    return undefined;
  }
  for (const device of probe.devices) logger.info({ gpu: device.index, uuid: device.uuid, name: device.name }, `collecting metrics for GPU ${device.index}: ${device.name}`);
  return new GpuMetrics(
    probe.devices.map((d) => d.uuid),
    (uuid) => addon!.readNvml(uuid),
  );
}

/** Hands the GPU memory flags to the CUDA addon before any GPU model loads; nothing to do where the addon is not built. */
export function configureGpuMemory(pinnedPoolBytes: number, devicePoolBytes: Array<[number, number]>): void {
  cudaAddon().addon?.configureMemory({ pinnedPoolBytes, devicePoolBytes });
}
