import type { Measurement } from './measurement.js';
import { score, type StrategyContext } from './strategy.js';

/** Survivors of each rung: the best third, measured with three times the window. */
const REDUCTION = 3;

/**
 * Successive halving: every candidate gets a short window; the best third of each rung
 * is measured again with a window three times longer, up to the full window. Short
 * windows are noisy, so a rung keeps at least two survivors until the last.
 */
export async function ashaSearch(ctx: StrategyContext): Promise<void> {
  let rungs = 0;
  while (REDUCTION ** (rungs + 1) <= ctx.candidates.length) rungs++;
  rungs = Math.min(rungs, 2);
  let windowMs = Math.max(100, Math.round(ctx.windowMs / REDUCTION ** rungs));
  let alive = ctx.candidates;
  for (let rung = 0; ; rung++) {
    const results: Measurement[] = [];
    for (const candidate of alive) results.push(await ctx.measure(candidate, windowMs));
    if (rung >= rungs || alive.length <= 1) return;
    results.sort((a, b) => score(b) - score(a));
    const keep = Math.max(rung + 1 >= rungs ? 1 : 2, Math.floor(alive.length / REDUCTION));
    alive = results.slice(0, keep).map((m) => m.candidate);
    windowMs = rung + 1 >= rungs ? ctx.windowMs : windowMs * REDUCTION;
  }
}
