/**
 * GPU metrics: on a machine without a GPU (development and CI) a real server reports none
 * of the nv_gpu_* families and logs why; the Prometheus families themselves are checked
 * with NVML-shaped readings fed through GpuMetrics' reader, as the addon feeds it on a GPU.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/index.js';
import { DEFAULT_METRICS_CONFIG, GpuMetrics, PrometheusMetrics, type GpuReading } from '../../src/metrics/index.js';
import { parsePrometheusText } from '../helpers/prometheus-text.js';
import { scratchRepository, startTestServer } from '../helpers/test-server.js';

const GPU_FAMILIES = ['nv_gpu_utilization', 'nv_gpu_memory_total_bytes', 'nv_gpu_memory_used_bytes', 'nv_gpu_power_usage', 'nv_gpu_power_limit', 'nv_energy_consumption'];
const noDriver = (() => {
  try {
    return !execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes('libcuda.so.1') && !process.env.LD_LIBRARY_PATH;
  } catch {
    return false;
  }
})();

const repo = scratchRepository();
afterAll(() => repo.cleanup());

async function serverLogAndScrape(allowGpuMetrics: boolean): Promise<{ log: string; text: string }> {
  let log = '';
  const logger = createLogger(0, { write: (line: string) => (log += line) });
  const t = await startTestServer({ modelRepositories: [repo.root], allowGpuMetrics, logger });
  try {
    const text = await (await fetch(t.metricsUrl)).text();
    return { log, text };
  } finally {
    await t.server.stop();
  }
}

describe('GPU metrics on a machine without a GPU', () => {
  it.runIf(noDriver)('are absent, and the log says why', async () => {
    const { log, text } = await serverLogAndScrape(true);
    const families = new Set(parsePrometheusText(text).types.keys());
    for (const family of GPU_FAMILIES) expect(families.has(family)).toBe(false);
    expect(families.has('nv_cpu_utilization')).toBe(true);
    expect(log).toContain('GPU metrics are not reported: no NVIDIA driver: libcuda.so.1 could not be opened (libcuda.so.1: cannot open shared object file');
  });

  it('are not looked for with --allow-gpu-metrics=false', async () => {
    const { log, text } = await serverLogAndScrape(false);
    expect(log).not.toContain('GPU metrics');
    expect(text).not.toContain('nv_gpu_');
  });
});

describe('GPU metric families', () => {
  const UUIDS = ['GPU-11111111-2222-3333-4444-555555555555', 'GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'];

  it('report each GPU under gpu_uuid, with energy counted from the start and failed readings keeping the last values', async () => {
    const readings = new Map<string, GpuReading>(
      UUIDS.map((uuid, i) => [
        uuid,
        { utilization: 0.25 * (i + 1), memoryTotalBytes: 80e9, memoryUsedBytes: 1e9 * (i + 1), powerUsageWatts: 100 + i, powerLimitWatts: 700, energyJoules: 5000 + i },
      ]),
    );
    const gpu = new GpuMetrics(UUIDS, (uuid) => readings.get(uuid)!);
    readings.set(UUIDS[0], { ...readings.get(UUIDS[0])!, energyJoules: 5012.5, utilization: 0.9 });
    readings.set(UUIDS[1], { ...readings.get(UUIDS[1])!, error: 'NVML: GPU is lost', utilization: 0 });
    gpu.sample();
    const metrics = new PrometheusMetrics({ versions: () => [], config: DEFAULT_METRICS_CONFIG, gpu });
    const scrape = parsePrometheusText(await metrics.registry.metrics());
    const value = (name: string, uuid: string) => scrape.samples.find((s) => s.name === name && s.labels.gpu_uuid === uuid)?.value;
    expect(scrape.types.get('nv_energy_consumption')).toBe('counter');
    expect(scrape.types.get('nv_gpu_utilization')).toBe('gauge');
    expect(value('nv_gpu_utilization', UUIDS[0])).toBe(0.9);
    expect(value('nv_energy_consumption', UUIDS[0])).toBe(12.5);
    // The lost GPU keeps its previous sample rather than dropping to zero.
    expect(value('nv_gpu_utilization', UUIDS[1])).toBe(0.5);
    expect(value('nv_energy_consumption', UUIDS[1])).toBe(0);
    expect(value('nv_gpu_memory_total_bytes', UUIDS[1])).toBe(80e9);
    expect(value('nv_gpu_memory_used_bytes', UUIDS[1])).toBe(2e9);
    expect(value('nv_gpu_power_usage', UUIDS[1])).toBe(101);
    expect(value('nv_gpu_power_limit', UUIDS[0])).toBe(700);
    for (const family of GPU_FAMILIES) expect(scrape.samples.filter((s) => s.name === family)).toHaveLength(2);
  });
});
