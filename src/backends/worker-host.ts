/**
 * The worker-thread side of worker-protocol.ts: loads one model instance, then answers
 * execute commands and finalizes on close. Backends supply only what differs: how to
 * load, execute and close.
 */
import { parentPort } from 'node:worker_threads';
import { CommandSlotReader } from './command-slot.js';
import { IdleSpin } from './idle-spin.js';
import { allCancelled, EXECUTION_CANCELLED_MESSAGE, type ExecutionBatch, type ExecutionResult, type ModelSignature } from './backend.js';
import { Outbox } from './outbox.js';
import { packResult, unpackExecute } from './packed-messages.js';
import type { CallOutcome, WorkerCommand, WorkerReply } from './worker-protocol.js';

export interface HostedInstance {
  signature: ModelSignature;
  /**
   * The result and the buffers to transfer with it (which the instance must not touch again).
   * `executionId` names the execution in the 'response' messages of a decoupled model.
   */
  execute(batch: ExecutionBatch, executionId: number): Promise<{ result: ExecutionResult; transfer: ArrayBuffer[] }>;
  /**
   * Whether execute() may be called again before the previous call has finished (the
   * instance then runs executions one after another itself). Otherwise the host waits
   * for each execution to finish before starting the next.
   */
  overlappingExecutes?: boolean;
  /**
   * Whether the worker may spin briefly for the next command when it runs out of work
   * (see idle-spin.ts): for instances whose executions are short and run on this thread.
   */
  spinWhenIdle?: boolean;
  close(): Promise<void>;
  /** The answer to a call the instance made to another model (see worker-protocol.ts). */
  callResult?(id: number, outcome: CallOutcome): void;
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

let outbox: Outbox<WorkerReply> | undefined;

/** Every message of this worker to the main thread goes through here, in order. */
export function toMainThread(): Outbox<WorkerReply> {
  return (outbox ??= new Outbox(parentPort!));
}

export async function hostInstance(load: () => Promise<HostedInstance>): Promise<void> {
  const port = parentPort!;
  const replies = toMainThread();
  let instance: HostedInstance;
  try {
    instance = await load();
  } catch (err) {
    replies.post({ type: 'load-error', message: errorMessage(err) });
    return;
  }
  replies.post({ type: 'ready', signature: instance.signature });

  // Executions run one after another, unless the instance takes overlapping calls.
  let previous: Promise<void> = Promise.resolve();
  const overlapping = new Set<Promise<void>>();
  /** Executions received and not yet answered. */
  let outstanding = 0;
  let spin: IdleSpin | undefined;
  const onCommands = (commands: WorkerCommand[]) => {
    spin?.arrived(commands.length);
    for (const received of commands) {
      const command = Array.isArray(received) ? { type: 'execute' as const, ...unpackExecute(received, instance.signature) } : received;
      // Not queued: the execution in progress may be the one waiting for it.
      if (command.type === 'call-result') instance.callResult?.(command.id, command.outcome);
      else if (command.type === 'handoff') {
        const { replyDoorbell } = command;
        replies.redirect(command.replyPort, () => Atomics.add(replyDoorbell, 0, 1));
        if (instance.spinWhenIdle) {
          spin = new IdleSpin(port, command.doorbell, command.spinMicros, (message) => onCommands(message as WorkerCommand[]), new CommandSlotReader(command.commandSlot));
        }
      } else if (command.type === 'execute' && instance.overlappingExecutes) {
        outstanding++;
        const running = execute(command).finally(() => {
          overlapping.delete(running);
          executionDone();
        });
        overlapping.add(running);
      } else if (command.type === 'execute') {
        outstanding++;
        previous = previous.then(() => execute(command)).finally(executionDone);
      } else previous = previous.then(close);
    }
  };
  port.on('message', onCommands);

  /** With nothing left to run, the replies go now, and the worker may wait a moment for more work. */
  function executionDone(): void {
    if (--outstanding > 0 || !spin) return;
    replies.flush();
    spin.idle();
  }

  async function close(): Promise<void> {
    await Promise.all(overlapping);
    // The worker is terminated right after; a failing finalize changes nothing for the server.
    await instance.close().catch(() => undefined);
    replies.post({ type: 'closed' });
  }

  async function execute(command: { id: number; batch: ExecutionBatch }): Promise<void> {
    // Handed over ahead of time, it waited here while its clients went away: nobody wants it.
    if (allCancelled(command.batch)) {
      replies.post({ type: 'error', id: command.id, message: EXECUTION_CANCELLED_MESSAGE });
      return;
    }
    try {
      const { result, transfer } = await instance.execute(command.batch, command.id);
      const packed = packResult(command.id, result, instance.signature);
      if (packed) replies.post(packed.message, packed.transfer);
      else replies.post({ type: 'result', id: command.id, result }, transfer);
    } catch (err) {
      replies.post({ type: 'error', id: command.id, message: errorMessage(err) });
    }
  }
}
