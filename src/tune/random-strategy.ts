import { shuffled } from './random.js';
import type { StrategyContext } from './strategy.js';

/** Candidates in a seeded random order with the full window, until the budget runs out; half the space when it does not. */
export async function randomSearch(ctx: StrategyContext): Promise<void> {
  const order = shuffled(ctx.candidates, ctx.random);
  for (const candidate of order.slice(0, Math.max(1, Math.ceil(order.length / 2)))) await ctx.measure(candidate, ctx.windowMs);
}
