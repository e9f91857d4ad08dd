import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { performanceMsToSteadyNs, steadyNowNs, steadyNsToPerformanceMs } from '../../src/core/steady-clock.js';

/**
 * Queue times are a worker's steady-clock timestamp converted to the main thread's
 * performance.now() scale: an error in the offset between the two clocks lands in every
 * request's queue and overhead times. The tolerance covers the offset's own reading
 * error (half a bracket of three clock calls); a preempted test only widens its bracket.
 */
const TOLERANCE_MS = 0.01;

describe('steady clock', () => {
  it('converts a steady timestamp to the performance.now() time at which it was taken', () => {
    for (let i = 0; i < 100; i++) {
      const before = performance.now();
      const steady = steadyNowNs();
      const after = performance.now();
      const converted = steadyNsToPerformanceMs(steady);
      expect(converted).toBeGreaterThanOrEqual(before - TOLERANCE_MS);
      expect(converted).toBeLessThanOrEqual(after + TOLERANCE_MS);
    }
  });

  it('converts back and forth without drift', () => {
    const nowMs = performance.now();
    expect(steadyNsToPerformanceMs(performanceMsToSteadyNs(nowMs))).toBeCloseTo(nowMs, 5);
  });
});

describe('steady clock in a fresh process', () => {
  it('is calibrated as well where its module is the first to read either clock (as in a server process)', () => {
    const moduleUrl = new URL('../../dist/core/steady-clock.js', import.meta.url).href;
    const code = `
      const { steadyNowNs, steadyNsToPerformanceMs } = await import(${JSON.stringify(moduleUrl)});
      const errors = [];
      for (let i = 0; i < 100; i++) {
        const before = performance.now();
        const converted = steadyNsToPerformanceMs(steadyNowNs());
        const after = performance.now();
        errors.push(converted < before ? converted - before : converted > after ? converted - after : 0);
      }
      process.stdout.write(JSON.stringify(errors));`;
    const errors = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' })) as number[];
    for (const error of errors) expect(Math.abs(error)).toBeLessThanOrEqual(TOLERANCE_MS);
  });
});
