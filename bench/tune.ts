/**
 * bench/tune: grid search against ASHA and Bayesian (TPE) search on the bundled `mlp`,
 * on a real server started in this process. Prints each strategy's measurement time as
 * a ratio of grid's, and its winner's throughput as a ratio of grid's winner's twice:
 * as the search measured it, and verified: the winners measured again side by side,
 * in turn, for several rounds (medians). A search's own best figure is the largest of
 * many noisy windows and overstates its winner; the verification compares the
 * configurations, not the luck of their windows.
 *   npx tsx bench/tune.ts [windowMs] [verificationRounds]
 */
import { measure, type Measurement } from '../src/tune/measurement.js';
import { candidateKey, modelControl, runTune, type Candidate, type StrategyName, type TuneOptions } from '../src/tune/index.js';
import { loadavg } from 'node:os';
import { exampleModels, startTestServer } from '../test/helpers/test-server.js';

const windowMs = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 3);
const STRATEGIES: StrategyName[] = ['grid', 'asha', 'bayes'];
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
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const control = modelControl(base.url, 'http');
try {
  console.log(`tune: mlp, ${windowMs} ms full window, concurrency ${base.concurrencies.join(',')}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the start`);
  const original = await control.config('mlp');
  const results = {} as Record<StrategyName, { best: number; seconds: number; winner: Candidate }>;
  for (const strategy of STRATEGIES) {
    const r = await runTune({ ...base, strategy });
    if (!r.best) throw new Error(`${strategy} found no configuration`);
    results[strategy] = { best: r.best.throughput, seconds: r.measuredSeconds, winner: r.best.candidate };
    console.log(`${strategy.padEnd(6)} best ${r.best.throughput.toFixed(1)} infer/s (${r.best.key}), ${r.measurements.length} measurements, ${r.measuredSeconds.toFixed(1)} s measured, ${r.candidatesInSpace} candidates`);
    // Full-window measurements, best first: shows whether a winner stands out or is within the noise.
    const full = r.measurements.filter((m) => m.windowMs === windowMs).sort((a, b) => b.throughput - a.throughput);
    for (const m of full.slice(0, strategy === 'grid' ? full.length : 5)) console.log(`         ${m.throughput.toFixed(1).padStart(8)} infer/s  p99 ${m.p99Ms.toFixed(2).padStart(7)} ms  ${m.key}`);
  }

  // Verification: every distinct winner, measured in turn (the order rotated each round) with the full window.
  const winners = [...new Map(STRATEGIES.map((s) => [candidateKey(results[s].winner), results[s].winner])).entries()];
  const verified = new Map<string, number[]>(winners.map(([key]) => [key, []]));
  const settings = { ...base, objective: 'throughput' as const };
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < winners.length; i++) {
      const [key, candidate] = winners[(i + round) % winners.length];
      const m: Measurement = await measure(control, original, candidate, windowMs, settings);
      verified.get(key)!.push(m.throughput);
    }
  }
  console.log(`verification: ${winners.length} distinct winner(s), ${rounds} rounds of ${windowMs} ms each, in turn`);
  for (const [key, values] of verified) console.log(`         median ${median(values).toFixed(1).padStart(8)} infer/s  (${values.map((v) => v.toFixed(0)).join(', ')})  ${key}`);
  const verifiedOf = (s: StrategyName) => median(verified.get(candidateKey(results[s].winner))!);
  for (const strategy of ['asha', 'bayes'] as const) {
    const s = results[strategy];
    console.log(
      `${strategy}/grid: measurement time ${(s.seconds / results.grid.seconds).toFixed(3)}, ` +
        `winner's throughput as searched ${(s.best / results.grid.best).toFixed(3)}, verified ${(verifiedOf(strategy) / verifiedOf('grid')).toFixed(3)}`,
    );
  }
  await control.load('mlp', original);
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
} finally {
  control.close();
  await ts.server.stop();
}
