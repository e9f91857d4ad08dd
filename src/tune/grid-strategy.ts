import type { StrategyContext } from './strategy.js';

/** Every candidate, in order, with the full window: the reference the other strategies are judged against. */
export async function gridSearch(ctx: StrategyContext): Promise<void> {
  for (const candidate of ctx.candidates) await ctx.measure(candidate, ctx.windowMs);
}
