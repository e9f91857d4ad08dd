import { performanceMsToSteadyNs as steadyNs, type RequestTrace, type ScheduledTimes } from '../core/index.js';
import type { TraceFile } from './trace-file.js';

// Triton's trace timestamps are steady-clock nanoseconds (CLOCK_MONOTONIC on Linux),
// comparable with other processes' traces; the scheduler's are performance.now() ms.

/**
 * One sampled request. Its records, as Triton writes them: the request's identity,
 * then its timestamps. COMPUTE_START is when the instance began the batch's execution
 * (where the statistics' queue time ends); the input, infer and output spans are the
 * instance's own measurements laid end to end from there, so that trace and
 * statistics agree; the hand-back to the main thread shows before REQUEST_END.
 */
export class SampledTrace implements RequestTrace {
  private done = false;

  constructor(
    private readonly id: number,
    private readonly model: string,
    private readonly requestId: string | undefined,
    private readonly requestStartMs: number,
    private readonly file: TraceFile,
    private readonly logFrequency: number,
  ) {}

  complete(times: ScheduledTimes): void {
    if (this.done) return;
    this.done = true;
    const stamps: Array<{ name: string; ns: number }> = [
      { name: 'REQUEST_START', ns: steadyNs(this.requestStartMs) },
      { name: 'QUEUE_START', ns: steadyNs(times.queueStartMs) },
    ];
    if (times.computeStartMs !== undefined) {
      const start = steadyNs(times.computeStartMs);
      stamps.push({ name: 'COMPUTE_START', ns: start });
      if (times.compute) {
        const inputEnd = start + Math.round(times.compute.inputNs);
        const outputStart = inputEnd + Math.round(times.compute.inferNs);
        stamps.push(
          { name: 'COMPUTE_INPUT_END', ns: inputEnd },
          { name: 'COMPUTE_OUTPUT_START', ns: outputStart },
          { name: 'COMPUTE_END', ns: outputStart + Math.round(times.compute.outputNs) },
        );
      }
    }
    stamps.push({ name: 'REQUEST_END', ns: steadyNs(times.requestEndMs) });
    const identity: Record<string, unknown> = { id: this.id, model_name: this.model, model_version: Number(times.version) };
    if (this.requestId !== undefined && this.requestId !== '') identity.request_id = this.requestId;
    this.file.add(`${JSON.stringify(identity)},${JSON.stringify({ id: this.id, timestamps: stamps })}`, this.logFrequency);
  }
}
