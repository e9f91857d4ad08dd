/**
 * How many executions the pool hands each instance: one at a time for a batcher, and
 * under the default scheduler as far ahead as about a millisecond of work, spread over
 * the least busy instances. The instances are stand-ins: the pool only counts.
 */
import { describe, expect, it } from 'vitest';
import type { ModelInstance } from '../../src/backends/index.js';
import { InstancePool } from '../../src/scheduler/index.js';

function instance(name: string): ModelInstance {
  return {
    name,
    signature: { inputs: [], outputs: [] },
    execute: () => Promise.reject(new Error('not used')),
    onFailure: () => undefined,
    close: () => Promise.resolve(),
  } as unknown as ModelInstance;
}

const supervision = {
  restart: () => Promise.reject(new Error('not used')),
  maxConsecutiveFailures: 0,
  backoffMs: 0,
  onDeath: () => undefined,
  onRestart: () => undefined,
  onGiveUp: () => undefined,
};

/** Acquires until the pool refuses; returns the names of the instances handed out. */
function drain(pool: InstancePool): string[] {
  const names: string[] = [];
  while (pool.hasFreeSlot) names.push(pool.acquire()!.name);
  expect(pool.acquire()).toBeUndefined();
  return names;
}

describe('InstancePool', () => {
  it('gives a batcher each instance once, until it is released', () => {
    const [a, b] = [instance('a'), instance('b')];
    const pool = new InstancePool([a, b], supervision, 1);
    expect(drain(pool).sort()).toEqual(['a', 'b']);
    pool.release(a, 0.01);
    expect(drain(pool)).toEqual(['a']);
  });

  it('hands an untimed model two executions per instance, alternating between instances', () => {
    const pool = new InstancePool([instance('a'), instance('b')], supervision, 64);
    expect(drain(pool)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('feeds a fast model about a millisecond of work ahead, and a slow one hardly more than it runs', () => {
    const fast = instance('fast');
    const pool = new InstancePool([fast], supervision, 64);
    pool.acquire();
    pool.release(fast, 0.1); // 0.1 ms per execution: 1 running + 10 ahead.
    expect(drain(pool)).toHaveLength(11);

    const capped = new InstancePool([fast], supervision, 64);
    capped.acquire();
    capped.release(fast, 0.001);
    expect(drain(capped)).toHaveLength(64);

    const slow = instance('slow');
    const patient = new InstancePool([slow], supervision, 64);
    patient.acquire();
    patient.release(slow, 0.1);
    // Executions slow down to 20 ms: the mean follows, and the instance gets two at a time.
    for (let i = 0; i < 60; i++) {
      patient.acquire();
      patient.release(slow, 20);
    }
    expect(drain(patient)).toHaveLength(2);
  });
});
