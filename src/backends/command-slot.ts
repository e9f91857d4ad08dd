/**
 * A one-command mailbox in shared memory, for the hand-off at low concurrency. A worker
 * that spins for its next command (idle-spin.ts) would otherwise receive it by
 * postMessage: a serialization, a queue under a lock, an eventfd write to wake a thread
 * that is not even asleep, and a deserialization on its side. When the worker is
 * watching, the main thread instead copies the packed command (packed-messages.ts) into
 * this slot and flips its state; the worker copies it out. Anything else, or a worker
 * that is not watching, goes by postMessage as before.
 *
 * States (element 0 of the state array):
 *   CLOSED   the worker is not watching (busy, parked, or not spinning at all);
 *   WATCHING the worker spins and the slot is empty: the main thread may fill it;
 *   FULL     the main thread filled it: the worker takes it.
 * Only the main thread moves WATCHING → FULL, and only the worker moves WATCHING →
 * CLOSED and FULL → CLOSED, each by compare-and-exchange, so a command is either taken
 * by the worker or sent by postMessage, never both and never lost. The bytes are written
 * before the FULL exchange and read after the worker sees FULL (Atomics operations are
 * sequentially consistent), and the main thread fills the slot only while the instance
 * holds no other execution, so a filled slot is never overwritten before it is taken.
 */

const CLOSED = 0;
const WATCHING = 1;
const FULL = 2;
/** State, then the command's length in bytes. */
const STATE = 0;
const LENGTH = 1;

/** Packed commands up to this size fit (a packed command carries up to 64 KiB of tensor data, and its header). */
export const COMMAND_SLOT_BYTES = 80 * 1024;

export interface CommandSlotMemory {
  control: Int32Array;
  bytes: Uint8Array;
}

export function commandSlotMemory(): CommandSlotMemory {
  return { control: new Int32Array(new SharedArrayBuffer(8)), bytes: new Uint8Array(new SharedArrayBuffer(COMMAND_SLOT_BYTES)) };
}

/** The main thread's side. */
export class CommandSlotWriter {
  constructor(private readonly memory: CommandSlotMemory) {}

  /** Puts the command in the slot if the worker is watching it; whether it did (if not, send it otherwise). */
  offer(command: ArrayBuffer): boolean {
    const { control, bytes } = this.memory;
    if (command.byteLength > bytes.length || Atomics.load(control, STATE) !== WATCHING) return false;
    bytes.set(new Uint8Array(command));
    Atomics.store(control, LENGTH, command.byteLength);
    return Atomics.compareExchange(control, STATE, WATCHING, FULL) === WATCHING;
  }
}

/** The worker's side. */
export class CommandSlotReader {
  constructor(private readonly memory: CommandSlotMemory) {}

  /** The worker begins to watch: the main thread may fill the slot from now on. */
  open(): void {
    Atomics.store(this.memory.control, STATE, WATCHING);
  }

  get full(): boolean {
    return Atomics.load(this.memory.control, STATE) === FULL;
  }

  /**
   * The worker stops watching. Returns the command if the main thread filled the slot
   * meanwhile (it must then be run), a copy that owns its buffer.
   */
  close(): ArrayBuffer | undefined {
    const { control, bytes } = this.memory;
    if (Atomics.compareExchange(control, STATE, WATCHING, CLOSED) !== FULL) return undefined;
    const command = bytes.slice(0, Atomics.load(control, LENGTH)).buffer;
    Atomics.store(control, STATE, CLOSED);
    return command;
  }
}
