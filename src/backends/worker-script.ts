import { existsSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';

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
  const tsUrl = JSON.stringify(new URL(`./${moduleBaseName}.ts`, callerUrl).href);
  const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.register({ namespace: 'nereid-worker' }).import(${tsUrl}, ${tsUrl}));`;
  return new Worker(bootstrap, { ...options, eval: true });
}
