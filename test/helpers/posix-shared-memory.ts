/**
 * POSIX shared-memory objects as a client creates them: on Linux, shm_open("/name")
 * opens /dev/shm/name, so tests make, fill, read and shrink objects through that file.
 */
import { closeSync, ftruncateSync, openSync, readSync, rmSync, truncateSync, writeSync } from 'node:fs';

let next = 0;

export class SharedMemoryObject {
  /** The key a client registers (`/nereid-test-…`). */
  readonly key: string;
  private readonly path: string;

  constructor(readonly byteSize: number) {
    this.key = `/nereid-test-${process.pid}-${next++}`;
    this.path = `/dev/shm${this.key}`;
    const fd = openSync(this.path, 'w+', 0o600);
    ftruncateSync(fd, byteSize);
    closeSync(fd);
  }

  write(offset: number, data: ArrayBufferView): void {
    const fd = openSync(this.path, 'r+');
    writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 0, data.byteLength, offset);
    closeSync(fd);
  }

  read(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    const fd = openSync(this.path, 'r');
    readSync(fd, out, 0, length, offset);
    closeSync(fd);
    return out;
  }

  /** What a misbehaving client may do after registering the object. */
  shrink(byteSize: number): void {
    truncateSync(this.path, byteSize);
  }

  unlink(): void {
    rmSync(this.path, { force: true });
  }
}
