import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Compiles src/ to dist/ once before the tests: model workers then run compiled code
 * (see COMPILED_WORKERS_ENV) instead of compiling TypeScript in every worker, and the
 * process tests run the real `nereid` binary.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
