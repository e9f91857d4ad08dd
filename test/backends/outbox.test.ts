/** The Outbox between a model instance's worker and the main thread, over a real MessageChannel. */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/backends/outbox.js';

const ports: MessagePort[] = [];
afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

function channel(): { outbox: Outbox<unknown>; received: unknown[][]; next: () => Promise<unknown[]> } {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  const received: unknown[][] = [];
  const waiting: Array<(messages: unknown[]) => void> = [];
  port2.on('message', (messages: unknown[]) => {
    received.push(messages);
    waiting.shift()?.(messages);
  });
  return { outbox: new Outbox(port1), received, next: () => new Promise((resolve) => waiting.push(resolve)) };
}

describe('Outbox', () => {
  it('sends what one turn posts as one message, in order, with the buffers transferred', async () => {
    const { outbox, received, next } = channel();
    const first = new Float32Array([1, 2, 3]);
    const second = new Int32Array([4, 5]);
    outbox.post({ id: 1, data: first }, [first.buffer]);
    outbox.post({ id: 2, data: second }, [second.buffer]);
    outbox.post({ id: 3 });
    const messages = (await next()) as Array<{ id: number; data?: ArrayLike<number> }>;
    expect(messages.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(Array.from(messages[0].data!)).toEqual([1, 2, 3]);
    expect(Array.from(messages[1].data!)).toEqual([4, 5]);
    // Transferred, not copied: the sender's views are detached.
    expect(first.length).toBe(0);
    expect(second.length).toBe(0);
    expect(received).toHaveLength(1);

    outbox.post({ id: 4 });
    expect(await next()).toEqual([{ id: 4 }]);
  });

  it('transfers a buffer named by two messages once', async () => {
    const { outbox, next } = channel();
    const shared = new Uint8Array([9, 9]);
    outbox.post({ id: 1, data: shared }, [shared.buffer]);
    outbox.post({ id: 2, data: shared }, [shared.buffer]);
    const messages = (await next()) as Array<{ data: Uint8Array }>;
    expect(Array.from(messages[0].data)).toEqual([9, 9]);
    expect(messages[1].data.buffer).toBe(messages[0].data.buffer);
  });

  it('fails only the message that cannot be sent, and delivers the others', async () => {
    const { outbox, received, next } = channel();
    const failures: string[] = [];
    const data = new Int32Array([7, 8]);
    outbox.post({ id: 1, data }, [data.buffer]);
    outbox.post({ id: 2, callback: () => 2 }, [], (err) => failures.push(err.message));
    outbox.post({ id: 3 });
    const firstArrival = (await next()) as Array<{ id: number; data: Int32Array }>;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received.flat().map((m) => (m as { id: number }).id)).toEqual([1, 3]);
    // The failed attempt to send all three together left the buffer intact for the retry.
    expect(Array.from(firstArrival[0].data)).toEqual([7, 8]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/could not be cloned/);
  });

  it('calls afterSend once per postMessage, after the messages are on the port', async () => {
    const { port1, port2 } = new MessageChannel();
    ports.push(port1, port2);
    const rings: number[] = [];
    let sent = 0;
    const outbox = new Outbox<unknown>({ postMessage: (value, transfer) => { sent++; port1.postMessage(value, transfer); } }, () => rings.push(sent));
    const arrived = new Promise((resolve) => port2.once('message', resolve));
    outbox.post({ id: 1 });
    outbox.post({ id: 2 });
    expect(rings).toEqual([]);
    expect(await arrived).toEqual([{ id: 1 }, { id: 2 }]);
    expect(rings).toEqual([1]);
    outbox.post({ id: 3 });
    outbox.flush();
    expect(rings).toEqual([1, 2]);
  });
});
