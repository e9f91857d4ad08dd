import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError } from '../core/index.js';
import { formatFront, objectiveNamed, runTune, STRATEGIES, toPbtxt, tuneHtmlReport, type StrategyName, type TuneOptions } from '../tune/index.js';
import { formatHelp, parseFlags, UsageError, type FlagSpec } from './flag-parser.js';

export const TUNE_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'model-name': { kind: 'string', short: 'm', help: 'The model to tune (required). The server must run with --model-control-mode explicit.' },
  url: { kind: 'string', short: 'u', help: "The server's endpoint for -i, HOST:PORT.", defaultText: 'localhost:8000 (http), localhost:8001 (grpc)' },
  protocol: { kind: 'string', short: 'i', help: 'http or grpc: the protocol candidates are applied (repository API) and measured with.', defaultText: 'http' },
  strategy: { kind: 'string', help: 'grid, random, asha (successive halving) or bayes (TPE surrogate).', defaultText: 'grid' },
  objective: { kind: 'string', help: 'throughput (maximise; Model Analyzer: perf_throughput) or latency (minimise p99; perf_latency_p99).', defaultText: 'throughput' },
  'budget-seconds': { kind: 'int', help: 'Most seconds of measurement windows to spend (0: no limit).', defaultText: '0' },
  seed: { kind: 'int', help: 'Seed of the random, asha and bayes strategies.', defaultText: '1' },
  'output-dir': { kind: 'string', help: 'Where the winning config.pbtxt and report.html are written.', defaultText: 'tune-output' },
  'latency-budget': { kind: 'int', help: 'Largest acceptable p99 latency, in milliseconds (0: none).', defaultText: '0' },
  'min-throughput': { kind: 'int', help: 'Smallest acceptable throughput, inferences per second.', defaultText: '0' },
  'concurrency-range': { kind: 'string', help: 'Load levels each candidate is measured at: a comma-separated list of concurrencies.', defaultText: '1,4' },
  'measurement-interval': { kind: 'int', short: 'p', help: 'Full measurement window of a candidate, in milliseconds.', defaultText: '2000' },
  'batch-size': { kind: 'int', short: 'b', help: 'Batch size of each request.', defaultText: '1' },
  help: { kind: 'bool', help: 'Print this help.' },
};

export const TUNE_USAGE = `Usage: nereid tune -m <model> -u HOST:PORT [flags]\n\nSearches max_batch_size, dynamic batching, queue delay, instance count and ORT threads of a\nmodel on a running server (over HTTP or gRPC), for the highest throughput or the lowest p99, prints the Pareto front (throughput vs p99) and writes the\nwinning config.pbtxt and an HTML report. Ctrl-C stops the search and reports the best so far.\n\nFlags:\n${formatHelp(TUNE_FLAGS)}`;

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new UsageError(`--${name} must be positive, got ${value}`);
  return value;
}

export function tuneArgs(args: readonly string[]): { help: true } | { help: false; options: TuneOptions; outputDir: string } {
  const v = parseFlags(args, TUNE_FLAGS);
  if (v.help === true) return { help: true };
  const model = v['model-name'];
  if (typeof model !== 'string' || !model) throw new UsageError('a model name is required (-m MODEL)');
  const strategy = (v.strategy ?? 'grid') as StrategyName;
  if (!STRATEGIES.includes(strategy)) throw new UsageError(`--strategy must be one of ${STRATEGIES.join(', ')}, got '${strategy}'`);
  const protocol = (v.protocol ?? 'http') as string;
  if (protocol !== 'http' && protocol !== 'grpc') throw new UsageError(`-i must be http or grpc, got '${protocol}'`);
  const objective = objectiveNamed((v.objective as string | undefined) ?? 'throughput');
  if (!objective) throw new UsageError(`--objective must be throughput or latency (or Model Analyzer's perf_throughput, perf_latency_p99), got '${String(v.objective)}'`);
  const levels = String(v['concurrency-range'] ?? '1,4').split(',');
  if (levels.some((l) => !/^\d+$/.test(l) || Number(l) < 1)) throw new UsageError(`--concurrency-range expects positive integers separated by commas, got '${String(v['concurrency-range'])}'`);
  const nonNegative = (name: string, fallback: number) => {
    const value = (v[name] as number | undefined) ?? fallback;
    if (value < 0) throw new UsageError(`--${name} must not be negative, got ${value}`);
    return value;
  };
  return {
    help: false,
    outputDir: (v['output-dir'] as string | undefined) ?? 'tune-output',
    options: {
      model,
      url: (v.url as string | undefined) ?? (protocol === 'grpc' ? 'localhost:8001' : 'localhost:8000'),
      protocol,
      strategy,
      objective,
      seed: (v.seed as number | undefined) ?? 1,
      budgetSeconds: nonNegative('budget-seconds', 0),
      latencyBudgetMs: nonNegative('latency-budget', 0),
      minThroughput: nonNegative('min-throughput', 0),
      concurrencies: levels.map(Number),
      batchSize: positive('batch-size', (v['batch-size'] as number | undefined) ?? 1),
      windowMs: positive('measurement-interval', (v['measurement-interval'] as number | undefined) ?? 2000),
    },
  };
}

export async function tune(args: readonly string[]): Promise<number> {
  const parsed = tuneArgs(args);
  if (parsed.help) {
    process.stdout.write(`${TUNE_USAGE}\n`);
    return 0;
  }
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  try {
    const result = await runTune(parsed.options, {
      signal: interrupt.signal,
      onMeasurement: (m) =>
        process.stderr.write(`${m.key}: ${m.error ? `failed: ${m.error}` : `${m.throughput.toFixed(1)} infer/sec, p99 ${m.p99Ms.toFixed(2)} ms (${m.windowMs} ms window)`}\n`),
    });
    process.stdout.write(formatFront(result));
    mkdirSync(parsed.outputDir, { recursive: true });
    writeFileSync(join(parsed.outputDir, 'report.html'), tuneHtmlReport(result));
    writeFileSync(join(parsed.outputDir, 'tune.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (!result.bestConfig) return 1;
    writeFileSync(join(parsed.outputDir, 'config.pbtxt'), toPbtxt(result.bestConfig));
    process.stdout.write(`Wrote ${join(parsed.outputDir, 'config.pbtxt')} and ${join(parsed.outputDir, 'report.html')}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof InferenceError)) throw err;
    process.stderr.write(`nereid tune: ${err.message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
