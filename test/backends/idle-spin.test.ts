/**
 * IdleSpin (the worker side of the doorbell hand-off) over a real MessageChannel, with the
 * main thread's part played by another real thread: it posts on the port and rings the
 * doorbell while this thread is inside idle(), which must take the message off the port
 * before returning, without an event-loop turn.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { IdleSpin } from '../../src/backends/idle-spin.js';

/**
 * Posts `count` messages, each once the test raises slot 0 of `control`, ringing the
 * doorbell after each (as WorkerInstance's Outbox does); slot 1 counts those posted.
 */
const RINGER = `
const { workerData } = require('node:worker_threads');
const { port, doorbell, control, count } = workerData;
for (let i = 0; i < count; i++) {
  Atomics.wait(control, 0, i);
  port.postMessage([{ n: i }]);
  Atomics.add(doorbell, 0, 1);
  Atomics.store(control, 1, i + 1);
  Atomics.notify(control, 1);
}
`;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setUp(count: number, maxSpinMicros: number) {
  const { port1, port2 } = new MessageChannel();
  const doorbell = new Int32Array(new SharedArrayBuffer(4));
  const control = new Int32Array(new SharedArrayBuffer(8));
  const ringer = new Worker(RINGER, { eval: true, workerData: { port: port1, doorbell, control, count }, transferList: [port1] });
  cleanups.push(() => ringer.terminate(), () => port2.close());
  const handled: unknown[] = [];
  const spin = new IdleSpin(port2 as MessagePort, doorbell, maxSpinMicros, (message) => {
    spin.arrived();
    handled.push(...(message as unknown[]));
  });
  /** Lets the ringer send its next message. */
  const release = () => {
    Atomics.add(control, 0, 1);
    Atomics.notify(control, 0);
  };
  /** Blocks until the ringer has posted `n` messages. */
  const posted = (n: number) => {
    for (let now = Atomics.load(control, 1); now < n; now = Atomics.load(control, 1)) Atomics.wait(control, 1, now, 1_000);
  };
  return { spin, handled, release, posted, port2 };
}

describe('IdleSpin', () => {
  it('takes a message rung while it spins off the port before returning', () => {
    // A window far longer than the ringer needs: idle() returns as soon as the bell rings.
    const { spin, handled, release } = setUp(2, 20_000_000);
    release();
    spin.idle();
    expect(handled).toEqual([{ n: 0 }]);
    expect(spin.caught).toBe(1);
    release();
    spin.idle();
    expect(handled).toEqual([{ n: 0 }, { n: 1 }]);
    expect(spin.caught).toBe(2);
  });

  it('handles a message that came before it went idle at once, though the bell rang before it looked', () => {
    // Were it to wait for a further ring, it would spin for the whole 20 s window.
    const { spin, handled, release, posted } = setUp(1, 20_000_000);
    release();
    posted(1);
    spin.idle();
    expect(handled).toEqual([{ n: 0 }]);
  });

  it('never spins with a limit of 0, and leaves the message to the event loop', async () => {
    const { spin, handled, release, port2 } = setUp(1, 0);
    expect(spin.windowMicros).toBe(0);
    const delivered = new Promise<unknown>((resolve) => port2.once('message', resolve));
    release();
    spin.idle();
    expect(handled).toEqual([]);
    expect(await delivered).toEqual([{ n: 0 }]);
    expect(spin.caught).toBe(0);
  });

  it('stops spinning once the gaps between commands grow past the limit, and spins again when they shrink', async () => {
    const { spin } = setUp(0, 1_000);
    // Before any gap is known the whole limit is tried.
    expect(spin.windowMicros).toBe(1_000);
    for (let i = 0; i < 3; i++) {
      spin.idle();
      await new Promise((resolve) => setTimeout(resolve, 20));
      spin.arrived();
    }
    expect(spin.windowMicros).toBe(0);
    // Commands now follow at once: the estimate falls back under the limit (within a few of
    // them on a quiet machine; a loaded one preempts some, whose gaps then count as long).
    for (let i = 0; i < 500 && spin.windowMicros === 0; i++) {
      spin.idle();
      spin.arrived();
    }
    expect(spin.windowMicros).toBeGreaterThan(0);
    expect(spin.windowMicros).toBeLessThanOrEqual(1_000);
  });

  it('does not spin while commands come concurrently, and spins again once they come one at a time', () => {
    const { spin } = setUp(0, 1_000);
    expect(spin.windowMicros).toBe(1_000);
    // The first command finds the worker idle; the second, before it went idle again, busy.
    spin.arrived();
    expect(spin.windowMicros).toBe(1_000);
    spin.arrived();
    expect(spin.windowMicros).toBe(0);
    for (let i = 0; i < 7; i++) {
      spin.idle();
      spin.arrived();
    }
    expect(spin.windowMicros).toBe(0);
    spin.idle();
    spin.arrived();
    expect(spin.windowMicros).toBeGreaterThan(0);
    // Several commands in one message: concurrent requests too.
    spin.idle();
    spin.arrived(3);
    expect(spin.windowMicros).toBe(0);
  });
});
