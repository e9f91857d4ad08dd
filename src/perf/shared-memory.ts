/**
 * `--shared-memory system`: the input tensors of every planned request, and one
 * area per output, in one POSIX shared-memory object that the server maps as one
 * region. On Linux shm_open("/name") is the file /dev/shm/name, so the object is
 * created and filled with plain file writes; no native code is needed on this
 * side. As perf_analyzer does, all requests share the output areas: the answers
 * overwrite each other, which a load generator never reads.
 */
import { closeSync, existsSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs';
import { byteSize, elementCount, InferenceError } from '../core/index.js';
import type { ModelInfo } from './model-info.js';
import { rawTensorBytes } from './raw-tensor.js';
import type { PlannedRequest } from './request-plan.js';

const SHM_DIR = '/dev/shm';
/** Tensors start on cache-line boundaries. */
const ALIGN = 64;

export interface SharedMemoryPlace {
  region: string;
  offset: number;
  byteSize: number;
}

export interface SharedMemoryLayout {
  /** The name the region is registered under. */
  region: string;
  /** The key the server passes to shm_open. */
  key: string;
  byteSize: number;
  /** Per planned request, the place of each of its tensors, in order. */
  inputs: SharedMemoryPlace[][];
  outputs: Array<{ name: string } & SharedMemoryPlace>;
}

let created = 0;

const aligned = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * The bytes an output needs for one answer: exact for fixed-size numeric outputs,
 * `fallbackBytes` (--output-shared-memory-size) when BYTES or variable dims make
 * the size unknowable in advance, as perf_analyzer sizes them.
 */
export function outputByteSizes(info: ModelInfo, batchSize: number, fallbackBytes: number): Array<{ name: string; byteSize: number }> {
  return info.outputs.map((output) => {
    if (output.datatype === 'BYTES' || output.dims.includes(-1)) return { name: output.name, byteSize: fallbackBytes };
    const rows = info.maxBatchSize > 0 ? batchSize : 1;
    return { name: output.name, byteSize: rows * elementCount(output.dims) * byteSize(output.datatype) };
  });
}

export class SystemSharedMemory {
  private constructor(
    readonly layout: SharedMemoryLayout,
    private readonly path: string,
  ) {}

  static create(requests: readonly PlannedRequest[], outputs: ReadonlyArray<{ name: string; byteSize: number }>): SystemSharedMemory {
    if (!existsSync(SHM_DIR)) {
      throw new InferenceError('UNSUPPORTED', `--shared-memory system needs POSIX shared memory at ${SHM_DIR} (Linux); use --shared-memory none`);
    }
    const name = `nereid-perf-${process.pid}-${created++}`;
    const key = `/${name}`;
    const path = `${SHM_DIR}${key}`;
    let offset = 0;
    const writes: Array<{ offset: number; bytes: Buffer }> = [];
    const inputs = requests.map((request) =>
      request.map((tensor) => {
        const bytes = rawTensorBytes(tensor);
        const place = { region: name, offset, byteSize: bytes.length };
        writes.push({ offset, bytes });
        offset = aligned(offset + bytes.length);
        return place;
      }),
    );
    const outputPlaces = outputs.map((output) => {
      const place = { name: output.name, region: name, offset, byteSize: output.byteSize };
      offset = aligned(offset + output.byteSize);
      return place;
    });
    const total = Math.max(offset, ALIGN);
    let fd: number | undefined;
    try {
      fd = openSync(path, 'wx', 0o600);
      ftruncateSync(fd, total);
      for (const write of writes) writeSync(fd, write.bytes, 0, write.bytes.length, write.offset);
    } catch (err) {
      rmSync(path, { force: true });
      throw new InferenceError('INTERNAL', `cannot create the shared-memory object ${path}: ${(err as Error).message}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return new SystemSharedMemory({ region: name, key, byteSize: total, inputs, outputs: outputPlaces }, path);
  }

  unlink(): void {
    rmSync(this.path, { force: true });
  }
}
