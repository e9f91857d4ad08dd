import { InferenceError } from '../core/index.js';
import { formatRuns, readPipeline, RunStore, runPipeline, STEP_KINDS } from '../pipeline/index.js';
import { formatHelp, parseFlags, UsageError, type FlagSpec } from './flag-parser.js';

const DEFAULT_STORE = '.nereid/pipeline-runs';

export const PIPELINE_RUN_FLAGS: Readonly<Record<string, FlagSpec>> = {
  store: { kind: 'string', help: 'The run store: run records, step outputs and the step cache.', defaultText: DEFAULT_STORE },
  'no-cache': { kind: 'bool', help: 'Run every step, even those whose inputs are unchanged.', defaultText: 'false' },
  help: { kind: 'bool', help: 'Print this help.' },
};

export const PIPELINE_RUNS_FLAGS: Readonly<Record<string, FlagSpec>> = {
  store: { kind: 'string', help: 'The run store to list.', defaultText: DEFAULT_STORE },
  run: { kind: 'string', help: 'Show only this run.' },
  brief: { kind: 'bool', help: 'One line per run, without steps and artifacts.', defaultText: 'false' },
  help: { kind: 'bool', help: 'Print this help.' },
};

const stepKinds = Object.values(STEP_KINDS)
  .map((k) => `  ${k.kind.padEnd(9)} ${k.help}\n            inputs: ${Object.entries(k.inputs).map(([n, s]) => `${n} (${s.type}${s.optional ? ', optional' : ''})`).join(', ')}; outputs: ${Object.entries(k.outputs).map(([n, t]) => `${n} (${t})`).join(', ')}\n            with: ${Object.keys(k.parameters).join(', ') || '(none)'}`)
  .join('\n');

export const PIPELINE_USAGE = `Usage: nereid pipeline run FILE [flags]
       nereid pipeline runs [flags]

Runs a declared promotion pipeline (YAML): validate, warmup, perf, tune, package, deploy and
verify steps with typed inputs and outputs. Every run records the content hashes of each
step's inputs, parameters and outputs; a step whose inputs and parameters are unchanged
since an earlier run is not run again (cached). 'runs' lists past runs and what produced what.

Step kinds:
${stepKinds}

Flags of run:
${formatHelp(PIPELINE_RUN_FLAGS)}

Flags of runs:
${formatHelp(PIPELINE_RUNS_FLAGS)}`;

async function run(args: readonly string[]): Promise<number> {
  const [file, ...rest] = args;
  if (file === '--help') {
    process.stdout.write(`${PIPELINE_USAGE}\n`);
    return 0;
  }
  if (file === undefined || file.startsWith('-')) throw new UsageError('pipeline run needs the pipeline file: nereid pipeline run FILE');
  const flags = parseFlags(rest, PIPELINE_RUN_FLAGS);
  if (flags.help === true) {
    process.stdout.write(`${PIPELINE_USAGE}\n`);
    return 0;
  }
  const store = new RunStore((flags.store as string | undefined) ?? DEFAULT_STORE);
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  try {
    const pipeline = readPipeline(file);
    const record = await runPipeline(pipeline, { store, noCache: flags['no-cache'] === true, signal: interrupt.signal, log: (line) => process.stdout.write(`${line}\n`) });
    const counts = (s: string) => record.steps.filter((step) => step.status === s).length;
    process.stdout.write(`Run ${record.id} ${record.status}: ${counts('ran')} ran, ${counts('cached')} cached, ${counts('skipped')} skipped, ${counts('failed')} failed. Record: ${store.runDir(record.id)}/run.json\n`);
    return record.status === 'succeeded' ? 0 : 1;
  } catch (err) {
    if (!(err instanceof InferenceError)) throw err;
    process.stderr.write(`nereid pipeline: ${err.message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

function runs(args: readonly string[]): number {
  const flags = parseFlags(args, PIPELINE_RUNS_FLAGS);
  if (flags.help === true) {
    process.stdout.write(`${PIPELINE_USAGE}\n`);
    return 0;
  }
  const store = new RunStore((flags.store as string | undefined) ?? DEFAULT_STORE);
  const wanted = flags.run as string | undefined;
  const records = store.runs().filter((r) => wanted === undefined || r.id === wanted);
  if (wanted !== undefined && records.length === 0) {
    process.stderr.write(`nereid pipeline: no run '${wanted}' in ${store.root}\n`);
    return 1;
  }
  process.stdout.write(formatRuns(records, flags.brief === true ? 'summary' : 'full'));
  return 0;
}

export async function pipeline(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`${PIPELINE_USAGE}\n`);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'run') return run(rest);
  if (sub === 'runs') return runs(rest);
  throw new UsageError(`unknown pipeline subcommand '${sub}'; expected run or runs`);
}
