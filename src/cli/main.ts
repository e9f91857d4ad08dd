#!/usr/bin/env node
import { UsageError } from './flag-parser.js';
import { serve, SERVE_USAGE } from './serve-command.js';

const COMMANDS: Record<string, (args: readonly string[]) => Promise<number>> = { serve };

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  const command = first !== undefined && !first.startsWith('-') ? first : 'serve';
  const args = command === first ? rest : argv;
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  try {
    return await run(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`nereid: ${err.message}\n\n${SERVE_USAGE}\n`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
