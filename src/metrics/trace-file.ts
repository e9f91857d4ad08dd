import { writeFile } from 'node:fs/promises';
import type { Logger } from '../core/index.js';

/**
 * The traces bound for one trace file, written as Triton writes them: a JSON array
 * of records. With a log frequency of N, every N traces go to `<file>.<index>`
 * (index from 0); with 0, they are kept and written to `<file>` at shutdown. Writes
 * are asynchronous and in order, off the path of any request.
 */
export class TraceFile {
  private records: string[] = [];
  private index = 0;
  private frequency = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  /** One trace's records (JSON objects joined by commas), under the log frequency of its setting. */
  add(trace: string, logFrequency: number): void {
    this.records.push(trace);
    this.frequency = logFrequency;
    if (logFrequency > 0 && this.records.length >= logFrequency) this.writeIndexed();
  }

  /** Writes what is left and resolves once every write is done. */
  async close(): Promise<void> {
    if (this.records.length > 0) {
      if (this.frequency > 0) this.writeIndexed();
      else this.write(this.path, this.take());
    }
    await this.writing;
  }

  private writeIndexed(): void {
    this.write(`${this.path}.${this.index++}`, this.take());
  }

  private take(): string {
    const text = `[${this.records.join(',')}]`;
    this.records = [];
    return text;
  }

  private write(path: string, text: string): void {
    this.writing = this.writing
      .then(() => writeFile(path, text))
      .catch((err: Error) => this.logger.error({ file: path, reason: err.message }, 'cannot write trace file'));
  }
}
