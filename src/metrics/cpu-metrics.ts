import { readFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';

interface CpuTimes {
  busy: number;
  idle: number;
}

/**
 * Aggregate CPU times as Triton reads them from /proc/stat (busy: user, nice, system,
 * irq, softirq, steal; idle: idle, iowait); elsewhere from os.cpus().
 */
function cpuTimes(): CpuTimes {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: user + nice + system + irq + softirq + (steal || 0), idle: idle + iowait };
  } catch {
    let busy = 0;
    let idle = 0;
    for (const { times } of cpus()) {
      busy += times.user + times.nice + times.sys + times.irq;
      idle += times.idle;
    }
    return { busy, idle };
  }
}

/** Total and used (total less available) memory as Triton reads them from /proc/meminfo; elsewhere from the os module. */
function memory(): { total: number; used: number } {
  try {
    const text = readFileSync('/proc/meminfo', 'latin1');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1]);
    const total = kib('MemTotal') * 1024;
    const available = kib('MemAvailable') * 1024;
    if (Number.isFinite(total) && Number.isFinite(available)) return { total, used: total - available };
  } catch {
    // Not Linux: the os module's figures below.
  }
  return { total: totalmem(), used: totalmem() - freemem() };
}

/**
 * The machine's CPU utilisation and memory (`nv_cpu_utilization`,
 * `nv_cpu_memory_total_bytes`, `nv_cpu_memory_used_bytes`), sampled every
 * `--metrics-interval-ms` as Triton does: utilisation is the busy share of the CPU
 * time that passed between two samples.
 */
export class CpuMetrics {
  utilization = 0;
  memoryTotalBytes = 0;
  memoryUsedBytes = 0;
  private last: CpuTimes = cpuTimes();
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.sampleMemory();
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
    const now = cpuTimes();
    const busy = now.busy - this.last.busy;
    const total = busy + now.idle - this.last.idle;
    if (total > 0) this.utilization = Math.min(1, Math.max(0, busy / total));
    this.last = now;
    this.sampleMemory();
  }

  private sampleMemory(): void {
    const { total, used } = memory();
    this.memoryTotalBytes = total;
    this.memoryUsedBytes = used;
  }
}
