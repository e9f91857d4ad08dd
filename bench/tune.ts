/**
 * bench/tune: grid search against ASHA and Bayesian (TPE) search on the bundled `mlp`,
 * on a real server started in this process. Prints each strategy's best throughput as a
 * ratio of grid's best and its measurement time as a ratio of grid's.
 *   npx tsx bench/tune.ts [windowMs]
 */
import { runTune, type StrategyName, type TuneOptions } from '../src/tune/index.js';
import { exampleModels, startTestServer } from '../test/helpers/test-server.js';

const windowMs = Number(process.argv[2] ?? 1000);
const ts = await startTestServer(exampleModels('mlp'));
const base: TuneOptions = {
  model: 'mlp',
  url: ts.url.replace('http://', ''),
  protocol: 'http',
  strategy: 'grid',
  seed: 1,
  budgetSeconds: 0,
  latencyBudgetMs: 0,
  minThroughput: 0,
  concurrencies: [4],
  batchSize: 1,
  windowMs,
  space: { maxBatchSizes: [1, 4, 16, 64], preferredBatchSizes: [0], maxQueueDelaysUs: [0, 200, 1000], instanceCounts: [1, 2], intraOpThreads: [1] },
};
try {
  const results: Record<string, { best: number; seconds: number; measurements: number }> = {};
  for (const strategy of ['grid', 'asha', 'bayes'] as StrategyName[]) {
    const r = await runTune({ ...base, strategy });
    results[strategy] = { best: r.best?.throughput ?? 0, seconds: r.measuredSeconds, measurements: r.measurements.length };
    console.log(`${strategy.padEnd(6)} best ${results[strategy].best.toFixed(1)} infer/s (${r.best?.key}), ${r.measurements.length} measurements, ${r.measuredSeconds.toFixed(1)} s measured, ${r.candidatesInSpace} candidates`);
    // Full-window measurements, best first: shows whether a winner stands out or is within the noise.
    const full = r.measurements.filter((m) => m.windowMs === windowMs).sort((a, b) => b.throughput - a.throughput);
    for (const m of full.slice(0, strategy === 'grid' ? full.length : 5)) console.log(`         ${m.throughput.toFixed(1).padStart(8)} infer/s  p99 ${m.p99Ms.toFixed(2).padStart(7)} ms  ${m.key}`);
  }
  for (const strategy of ['asha', 'bayes']) {
    const s = results[strategy];
    console.log(`${strategy}/grid: best throughput ${(s.best / results.grid.best).toFixed(3)}, measurement time ${(s.seconds / results.grid.seconds).toFixed(3)}`);
  }
} finally {
  await ts.server.stop();
}
