import { existsSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * With this set, workers started from TypeScript source run the compiled `dist/` copy of
 * their module instead of compiling it with tsx in every worker: the test suite sets it
 * after building, and starts hundreds of workers.
 */
export const COMPILED_WORKERS_ENV = 'NEREID_COMPILED_WORKERS';

/** `…/src/backends/x.ts` → `…/dist/backends/<moduleBaseName>.js`. */
function compiledSibling(callerUrl: string, moduleBaseName: string): URL | undefined {
  const at = callerUrl.lastIndexOf('/src/');
  if (at < 0) return undefined;
  const url = new URL(`./${moduleBaseName}.js`, `${callerUrl.slice(0, at)}/dist/${callerUrl.slice(at + 5)}`);
  return existsSync(url) ? url : undefined;
}

/**
 * Starts a worker from a module next to the caller. Compiled code runs the `.js`
 * file; when the caller itself is TypeScript source (tests, tsx), the worker first
 * registers tsx so that it can import the `.ts` sibling. tsx is registered in a
 * namespace that covers only the worker's own module graph: a model's own code (a
 * JavaScript model's model.js) is then loaded by Node as it would be in production.
 */
export function startWorker(callerUrl: string, moduleBaseName: string, options: WorkerOptions): Worker {
  const jsUrl = new URL(`./${moduleBaseName}.js`, callerUrl);
  if (!callerUrl.endsWith('.ts') && existsSync(jsUrl)) return new Worker(jsUrl, options);
  const compiled = process.env[COMPILED_WORKERS_ENV] ? compiledSibling(callerUrl, moduleBaseName) : undefined;
  if (compiled) return new Worker(compiled, options);
  const tsUrl = JSON.stringify(new URL(`./${moduleBaseName}.ts`, callerUrl).href);
  const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.register({ namespace: 'nereid-worker' }).import(${tsUrl}, ${tsUrl}));`;
  return new Worker(bootstrap, { ...options, eval: true });
}
