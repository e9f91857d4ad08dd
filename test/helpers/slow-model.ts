import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningServer } from '../../src/server/index.js';
import { addModel, EXAMPLE_REPOSITORY } from './test-server.js';

/**
 * `slow_mlp`: the example mlp allowed batches of 4096 rows, so that one request keeps
 * its only instance busy for a few hundred milliseconds and later requests queue
 * behind it. Tests use it to cancel or time out requests that are still queued.
 */
export function addSlowModel(root: string): void {
  const config = readFileSync(join(EXAMPLE_REPOSITORY, 'mlp', 'config.pbtxt'), 'utf8')
    .replace('name: "mlp"', 'name: "slow_mlp"')
    .replace('max_batch_size: 128', 'max_batch_size: 4096');
  addModel(root, 'slow_mlp', { from: 'mlp', config });
}

/** A ModelInfer request for slow_mlp with `rows` rows, in raw form. */
export function slowRequest(rows: number, id = ''): object {
  const values = new Float32Array(rows * 256).fill(0.25);
  return {
    model_name: 'slow_mlp',
    id,
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [rows, 256] }],
    raw_input_contents: [Buffer.from(values.buffer)],
  };
}

export const until = async (condition: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

/** Requests accepted by `model` and not yet answered, queued or executing. */
export function pendingRequests(server: RunningServer, model: string): number {
  return server.registry.versionsOf(model).reduce((n, version) => n + (version.isReady ? version.requestScheduler.pendingCount : 0), 0);
}
