/** A one-line progress display for a terminal: rewritten in place, cleared before other output. */
import type { WindowProgress } from './perf-run.js';

export class ProgressLine {
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(progress: WindowProgress): void {
    const errors = progress.errorCount > 0 ? `, ${progress.errorCount} failed` : '';
    const text = `${progress.level}: window ${progress.trial}/${progress.maxTrials}, ${progress.throughput.toFixed(1)} infer/s, ${(progress.latencyUs / 1000).toFixed(2)} ms${errors}`;
    this.stream.write(`\r\x1b[K${text.slice(0, Math.max(20, (this.stream.columns ?? 100) - 1))}`);
    this.shown = true;
  }

  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
