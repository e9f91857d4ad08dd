/** The whole result as JSON: every level measured (stable or not) with every figure, for scripts. */
import type { PerfResult } from './perf-result.js';

export function jsonReport(result: PerfResult): string {
  return `${JSON.stringify({ tool: 'nereid perf', ...result }, null, 2)}\n`;
}
