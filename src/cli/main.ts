#!/usr/bin/env node
import { controller, CONTROLLER_USAGE } from './controller-command.js';
import { UsageError } from './flag-parser.js';
import { perf, PERF_USAGE } from './perf-command.js';
import { pipeline, PIPELINE_USAGE } from './pipeline-command.js';
import { serve, SERVE_USAGE } from './serve-command.js';
import { tune, TUNE_USAGE } from './tune-command.js';

const COMMANDS: Record<string, { run: (args: readonly string[]) => Promise<number>; usage: string }> = {
  serve: { run: serve, usage: SERVE_USAGE },
  perf: { run: perf, usage: PERF_USAGE },
  tune: { run: tune, usage: TUNE_USAGE },
  pipeline: { run: pipeline, usage: PIPELINE_USAGE },
  controller: { run: controller, usage: CONTROLLER_USAGE },
};

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  const command = first !== undefined && !first.startsWith('-') ? first : 'serve';
  const args = command === first ? rest : argv;
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  try {
    return await entry.run(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`nereid: ${err.message}\n\n${entry.usage}\n`);
    return 2;
  }
}

// Exit even if a forced shutdown left sockets or workers behind.
process.exit(await main(process.argv.slice(2)));
