import { existsSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Set by the test suite once it has built dist/: workers started from TypeScript
 * source then run their compiled copy instead of compiling with tsx in each worker.
 */
const COMPILED_WORKERS_ENV = 'NEREID_COMPILED_WORKERS';

/** `…/src/perf/x.ts` → `…/dist/perf/<moduleBaseName>.js`, when it exists. */
function compiledSibling(callerUrl: string, moduleBaseName: string): URL | undefined {
  const at = callerUrl.lastIndexOf('/src/');
  if (at < 0) return undefined;
  const url = new URL(`./${moduleBaseName}.js`, `${callerUrl.slice(0, at)}/dist/${callerUrl.slice(at + 5)}`);
  return existsSync(url) ? url : undefined;
}

/**
 * Starts a worker from a module next to the caller: the compiled `.js` when it
 * runs compiled, else the `.ts` sibling through tsx (tests, `npx tsx`). The same
 * recipe as the backends' worker start; perf keeps its own copy because a folder
 * imports only another folder's public surface.
 */
export function startWorker(callerUrl: string, moduleBaseName: string, options: WorkerOptions): Worker {
  const jsUrl = new URL(`./${moduleBaseName}.js`, callerUrl);
  if (!callerUrl.endsWith('.ts') && existsSync(jsUrl)) return new Worker(jsUrl, options);
  const compiled = process.env[COMPILED_WORKERS_ENV] ? compiledSibling(callerUrl, moduleBaseName) : undefined;
  if (compiled) return new Worker(compiled, options);
  const tsUrl = JSON.stringify(new URL(`./${moduleBaseName}.ts`, callerUrl).href);
  const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.register({ namespace: 'nereid-perf-worker' }).import(${tsUrl}, ${tsUrl}));`;
  return new Worker(bootstrap, { ...options, eval: true });
}
