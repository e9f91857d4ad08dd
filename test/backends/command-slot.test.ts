/**
 * The command slot (src/backends/command-slot.ts): the main thread's writer and the
 * worker's reader, first on one thread, then across two real threads, where every
 * command the writer was told was taken must arrive exactly once and no other.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMAND_SLOT_BYTES, commandSlotMemory, CommandSlotReader, CommandSlotWriter } from '../../src/backends/command-slot.js';
import { IdleSpin } from '../../src/backends/idle-spin.js';

const bytesOf = (...values: number[]) => Uint8Array.from(values).buffer;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('command slot, one thread', () => {
  it('refuses a command while the worker is not watching, and takes one while it is', () => {
    const memory = commandSlotMemory();
    const writer = new CommandSlotWriter(memory);
    const reader = new CommandSlotReader(memory);
    expect(writer.offer(bytesOf(1, 2, 3))).toBe(false);
    reader.open();
    expect(reader.full).toBe(false);
    expect(writer.offer(bytesOf(4, 5, 6))).toBe(true);
    expect(reader.full).toBe(true);
    // Filled: a second command must wait for the slot to be emptied.
    expect(writer.offer(bytesOf(7))).toBe(false);
    const taken = reader.close()!;
    expect([...new Uint8Array(taken)]).toEqual([4, 5, 6]);
    // A copy: the slot's memory is reused by the next command.
    expect(taken).not.toBe(memory.bytes.buffer);
    expect(writer.offer(bytesOf(8))).toBe(false);
  });

  it('gives nothing back when the worker stops watching an empty slot, or one it never opened', () => {
    const memory = commandSlotMemory();
    const reader = new CommandSlotReader(memory);
    expect(reader.close()).toBeUndefined();
    reader.open();
    expect(reader.close()).toBeUndefined();
    expect(new CommandSlotWriter(memory).offer(bytesOf(1))).toBe(false);
  });

  it('refuses a command larger than the slot', () => {
    const memory = commandSlotMemory();
    new CommandSlotReader(memory).open();
    expect(new CommandSlotWriter(memory).offer(new ArrayBuffer(COMMAND_SLOT_BYTES + 1))).toBe(false);
    expect(new CommandSlotWriter(memory).offer(new ArrayBuffer(COMMAND_SLOT_BYTES))).toBe(true);
  });
});

/**
 * The main thread's part, on a thread of its own (the compiled module, which the test
 * suite's global setup builds): offers commands 0..count-1, each as the 4 bytes of its
 * number, recording in `offered[i]` 1 if the slot took it and 2 if not. After a taken
 * one it waits for the reader's acknowledgement (control[0]), as the main thread waits
 * for an execution's reply before it offers the next; control[1] is raised at the end.
 */
const WRITER = `
const { workerData } = require('node:worker_threads');
const { memory, offered, control, count, moduleUrl } = workerData;
import(moduleUrl).then(({ CommandSlotWriter }) => {
  const writer = new CommandSlotWriter(memory);
  let acknowledged = 0;
  for (let i = 0; i < count; i++) {
    const took = writer.offer(Int32Array.of(i).buffer);
    Atomics.store(offered, i, took ? 1 : 2);
    if (took) {
      acknowledged++;
      while (Atomics.load(control, 0) < acknowledged) Atomics.wait(control, 0, acknowledged - 1, 1000);
    }
  }
  Atomics.store(control, 1, 1);
});
`;

describe('command slot, two threads', () => {
  it('delivers exactly the commands the writer was told were taken, each once, while the reader opens and closes at random', async () => {
    const count = 20_000;
    const memory = commandSlotMemory();
    const offered = new Int32Array(new SharedArrayBuffer(4 * count));
    const control = new Int32Array(new SharedArrayBuffer(8));
    const moduleUrl = new URL('../../dist/backends/command-slot.js', import.meta.url).href;
    const writer = new Worker(WRITER, { eval: true, workerData: { memory, offered, control, count, moduleUrl } });
    cleanups.push(() => writer.terminate());
    const reader = new CommandSlotReader(memory);
    const received: number[] = [];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    while (Atomics.load(control, 1) === 0) {
      reader.open();
      const spins = Math.floor(random() * 200);
      for (let k = 0; k < spins && !reader.full; k++);
      const command = reader.close();
      if (command) {
        received.push(new Int32Array(command)[0]);
        Atomics.add(control, 0, 1);
        Atomics.notify(control, 0);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const taken = [...offered.keys()].filter((i) => offered[i] === 1);
    // Some were taken and some refused, or the test proved nothing.
    expect(taken.length).toBeGreaterThan(10);
    expect(taken.length).toBeLessThan(count);
    expect(received).toEqual(taken);
  });
});

/** Offers one command (the bytes 9, 8, 7) until the slot takes it: the main thread handing an execution to a spinning worker. */
const PERSISTENT_WRITER = `
const { workerData } = require('node:worker_threads');
import(workerData.moduleUrl).then(({ CommandSlotWriter }) => {
  const writer = new CommandSlotWriter(workerData.memory);
  while (!writer.offer(Uint8Array.of(9, 8, 7).buffer));
});
`;

describe('IdleSpin with a command slot', () => {
  function setUp() {
    const { port1, port2 } = new MessageChannel();
    cleanups.push(() => port1.close(), () => port2.close());
    const doorbell = new Int32Array(new SharedArrayBuffer(4));
    const memory = commandSlotMemory();
    const handled: unknown[] = [];
    const spin = new IdleSpin(
      port2 as MessagePort,
      doorbell,
      20_000_000,
      (message) => {
        spin.arrived();
        handled.push(...(message as unknown[]));
      },
      new CommandSlotReader(memory),
    );
    return { port1, doorbell, memory, handled, spin };
  }

  it('takes a command put in the slot while it spins, as a packed execute command', async () => {
    const { memory, handled, spin } = setUp();
    const moduleUrl = new URL('../../dist/backends/command-slot.js', import.meta.url).href;
    const writer = new Worker(PERSISTENT_WRITER, { eval: true, workerData: { memory, moduleUrl } });
    cleanups.push(() => writer.terminate());
    await new Promise((resolve) => writer.once('online', resolve));
    // Returns as soon as the slot is filled, long before its 20 s window.
    spin.idle();
    expect(handled).toHaveLength(1);
    const [command] = handled as ArrayBuffer[][];
    expect(command).toHaveLength(1);
    expect([...new Uint8Array(command[0])]).toEqual([9, 8, 7]);
    expect(spin.caught).toBe(1);
  });

  it('handles what was posted before it first, and leaves the slot closed when it returns', () => {
    const { port1, doorbell, memory, handled, spin } = setUp();
    const writer = new CommandSlotWriter(memory);
    expect(writer.offer(bytesOf(1))).toBe(false);
    port1.postMessage([{ posted: true }]);
    Atomics.add(doorbell, 0, 1);
    spin.idle();
    expect(handled).toEqual([{ posted: true }]);
    expect(writer.offer(bytesOf(2))).toBe(false);
  });
});
