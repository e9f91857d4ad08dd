/**
 * ReplyWait (the main thread's wait for the reply of an execution that runs alone) over a
 * real MessageChannel, with the worker's part played by another real thread: it posts a
 * reply on the port and rings the doorbell while this thread is inside handedOver(),
 * which must take the reply off the port before returning, without an event-loop turn.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { executionsEnded, executionStarted, ReplyWait, replyWaitMicros, requestEnded, requestStarted } from '../../src/backends/reply-wait.js';

/** Posts `count` replies, each once the test raises slot 0 of `control`, ringing the doorbell after each; slot 1 counts those posted. */
const REPLIER = `
const { workerData } = require('node:worker_threads');
const { port, doorbell, control, count } = workerData;
for (let i = 0; i < count; i++) {
  Atomics.wait(control, 0, i);
  port.postMessage([{ reply: i }]);
  Atomics.add(doorbell, 0, 1);
  Atomics.store(control, 1, i + 1);
  Atomics.notify(control, 1);
}
`;

/** How many executions must run alone before the main thread waits (reply-wait.ts). */
const SEQUENTIAL_EXECUTIONS = 8;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setUp(count: number, maxWaitMicros: number) {
  const { port1, port2 } = new MessageChannel();
  const doorbell = new Int32Array(new SharedArrayBuffer(4));
  const control = new Int32Array(new SharedArrayBuffer(8));
  const replier = new Worker(REPLIER, { eval: true, workerData: { port: port1, doorbell, control, count }, transferList: [port1] });
  cleanups.push(() => replier.terminate(), () => port2.close());
  const handled: unknown[] = [];
  const wait = new ReplyWait(port2 as MessagePort, doorbell, maxWaitMicros, (message) => handled.push(...(message as unknown[])));
  const release = () => {
    Atomics.add(control, 0, 1);
    Atomics.notify(control, 0);
  };
  const posted = (n: number) => {
    for (let now = Atomics.load(control, 1); now < n; now = Atomics.load(control, 1)) Atomics.wait(control, 1, now, 1_000);
  };
  /** Runs `n` executions alone whose replies the test does not send: the ones before the main thread starts waiting. */
  const warmUp = (n = SEQUENTIAL_EXECUTIONS) => {
    for (let id = 0; id < n; id++) {
      executionStarted();
      wait.handedOver(id);
      executionsEnded();
    }
  };
  return { wait, handled, release, posted, warmUp };
}

/** Runs `body` with `extra` more executions counted in flight elsewhere in the process. */
function withExecutions<T>(count: number, body: () => T): T {
  for (let i = 0; i < count; i++) executionStarted();
  try {
    return body();
  } finally {
    executionsEnded(count);
  }
}

describe('ReplyWait', () => {
  it('takes the reply of an execution that runs alone off the port, once executions have run alone a while', () => {
    // A window far longer than the replier needs: handedOver() returns as soon as the bell rings.
    const { wait, handled, release, warmUp } = setUp(1, 20_000_000);
    warmUp();
    expect(wait.caught).toBe(0);
    withExecutions(1, () => {
      release();
      wait.handedOver(100);
    });
    expect(handled).toEqual([{ reply: 0 }]);
    expect(wait.caught).toBe(1);
  });

  it('handles a reply that came before it looked, though the bell rang before', () => {
    // Were it to wait for a further ring, it would spin for the whole 20 s window.
    const { wait, handled, release, posted, warmUp } = setUp(1, 20_000_000);
    warmUp();
    release();
    posted(1);
    withExecutions(1, () => wait.handedOver(100));
    expect(handled).toEqual([{ reply: 0 }]);
  });

  it('does not wait while executions overlap, nor for the next few that run alone', () => {
    const { wait, handled, release, posted, warmUp } = setUp(1, 20_000_000);
    warmUp();
    release();
    posted(1);
    // Another execution in flight: the reply is left to the event loop.
    withExecutions(2, () => wait.handedOver(100));
    expect(handled).toEqual([]);
    withExecutions(1, () => wait.handedOver(101));
    expect(handled).toEqual([]);
    warmUp(SEQUENTIAL_EXECUTIONS - 1);
    withExecutions(1, () => wait.handedOver(102));
    expect(handled).toEqual([{ reply: 0 }]);
  });

  it('does not wait while the server has other requests in flight (one execution of a batcher under load)', () => {
    const { wait, handled, release, posted, warmUp } = setUp(1, 20_000_000);
    warmUp();
    release();
    posted(1);
    requestStarted();
    requestStarted();
    try {
      withExecutions(1, () => wait.handedOver(100));
    } finally {
      requestEnded();
      requestEnded();
    }
    expect(handled).toEqual([]);
  });

  it('stops waiting when round trips are longer than its limit', () => {
    const { wait, handled, release, posted, warmUp } = setUp(1, 1_000);
    warmUp();
    // Replies that take 5 ms against a 1 ms limit.
    const sleep = new Int32Array(new SharedArrayBuffer(4));
    for (let id = 200; id < 204; id++) {
      withExecutions(1, () => {
        wait.handedOver(id);
        Atomics.wait(sleep, 0, 0, 5);
        wait.answered(id);
      });
    }
    release();
    posted(1);
    withExecutions(1, () => wait.handedOver(300));
    expect(handled).toEqual([]);
  });

  it('never waits with a limit of 0', () => {
    const { wait, handled, release, posted, warmUp } = setUp(1, 0);
    warmUp();
    release();
    posted(1);
    withExecutions(1, () => wait.handedOver(100));
    expect(handled).toEqual([]);
  });

  it('reads its limit from NEREID_REPLY_WAIT_US', () => {
    expect(replyWaitMicros({})).toBe(0);
    expect(replyWaitMicros({ NEREID_REPLY_WAIT_US: '0' })).toBe(0);
    expect(replyWaitMicros({ NEREID_REPLY_WAIT_US: '50' })).toBe(50);
    expect(replyWaitMicros({ NEREID_REPLY_WAIT_US: 'soon' })).toBe(0);
    expect(replyWaitMicros({ NEREID_REPLY_WAIT_US: '-1' })).toBe(0);
  });
});
