/**
 * The worker-thread side of worker-protocol.ts: loads one model instance, then answers
 * execute commands one at a time and finalizes on close. Backends supply only what
 * differs: how to load, execute and close.
 */
import { parentPort } from 'node:worker_threads';
import type { ExecutionBatch, ExecutionResult, ModelSignature } from './backend.js';
import type { CallOutcome, WorkerCommand, WorkerReply } from './worker-protocol.js';

export interface HostedInstance {
  signature: ModelSignature;
  /** The result and the buffers to transfer with it (which the instance must not touch again). */
  execute(batch: ExecutionBatch): Promise<{ result: ExecutionResult; transfer: ArrayBuffer[] }>;
  close(): Promise<void>;
  /** The answer to a call the instance made to another model (see worker-protocol.ts). */
  callResult?(id: number, outcome: CallOutcome): void;
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function hostInstance(load: () => Promise<HostedInstance>): Promise<void> {
  const port = parentPort!;
  let instance: HostedInstance;
  try {
    instance = await load();
  } catch (err) {
    port.postMessage({ type: 'load-error', message: errorMessage(err) } satisfies WorkerReply);
    return;
  }
  port.postMessage({ type: 'ready', signature: instance.signature } satisfies WorkerReply);

  // Commands are handled strictly one after another: an instance executes one batch at a time.
  let previous: Promise<void> = Promise.resolve();
  port.on('message', (command: WorkerCommand) => {
    // Not queued: the execution in progress may be the one waiting for it.
    if (command.type === 'call-result') return instance.callResult?.(command.id, command.outcome);
    previous = previous.then(() => handle(command));
  });

  async function handle(command: Exclude<WorkerCommand, { type: 'call-result' }>): Promise<void> {
    if (command.type === 'close') {
      // The worker is terminated right after; a failing finalize changes nothing for the server.
      await instance.close().catch(() => undefined);
      port.postMessage({ type: 'closed' } satisfies WorkerReply);
      return;
    }
    try {
      const { result, transfer } = await instance.execute(command.batch);
      port.postMessage({ type: 'result', id: command.id, result } satisfies WorkerReply, transfer);
    } catch (err) {
      port.postMessage({ type: 'error', id: command.id, message: errorMessage(err) } satisfies WorkerReply);
    }
  }
}
