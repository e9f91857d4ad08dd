import { existsSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker from a module next to the caller: the compiled `.js` when it
 * runs compiled, else the `.ts` sibling through tsx (tests, `npx tsx`). The same
 * recipe as the backends' worker start; perf keeps its own copy because a folder
 * imports only another folder's public surface.
 */
export function startWorker(callerUrl: string, moduleBaseName: string, options: WorkerOptions): Worker {
  const jsUrl = new URL(`./${moduleBaseName}.js`, callerUrl);
  if (!callerUrl.endsWith('.ts') && existsSync(jsUrl)) return new Worker(jsUrl, options);
  const tsUrl = new URL(`./${moduleBaseName}.ts`, callerUrl).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(tsUrl)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
