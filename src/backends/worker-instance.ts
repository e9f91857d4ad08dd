import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { isPackedBytes, toInferenceError, type InferenceRequest, type InferenceResponse, type Tensor } from '../core/index.js';
import { ExecutionNotStartedError, type ExecutionBatch, type ExecutionResult, type ModelInstance, type ModelSignature, type ResponseSink } from './backend.js';
import { startWorker } from '../core/index.js';
import { commandSlotMemory, CommandSlotWriter } from './command-slot.js';
import { Outbox } from './outbox.js';
import { packExecute, unpackResult } from './packed-messages.js';
import { executionsEnded, executionStarted, ReplyWait, replyWaitMicros } from './reply-wait.js';
import { ownedTensor, transferList, type CallOutcome, type CallRequest, type WorkerCommand, type WorkerReply } from './worker-protocol.js';

/** How long close() lets a model finalize before the worker is terminated. */
const CLOSE_GRACE_MS = 5_000;

export interface WorkerInstanceOptions {
  /** `import.meta.url` of the module next to which the worker script lives. */
  callerUrl: string;
  /** The worker script's file name without extension. */
  moduleBaseName: string;
  workerData: unknown;
  instanceName: string;
  /** `'<model>' version <v>`, for messages. */
  modelLabel: string;
  /**
   * Whether the worker needs the per-request part of each batch; a backend that only
   * computes tensors saves the structured clone of it.
   */
  sendRequests: boolean;
  /** Serves the worker's calls to other models of the server (a JavaScript model's infer()). */
  call?: (request: InferenceRequest) => Promise<InferenceResponse>;
  /**
   * The longest one execution may take, in ms (0: no limit). Past it the instance is
   * taken for hung: the requests it holds fail, and its worker is stopped, which makes
   * the pool restart it, since a worker stuck in a loop can be stopped no other way.
   */
  executeTimeoutMs?: number;
  /** Where executeTimeoutMs comes from, for the message (`parameter execute_timeout_ms`). */
  executeTimeoutSource?: string;
  /** The longest the worker spins for its next command when it runs out of work, in µs (see idle-spin.ts); default idleSpinMicros(). */
  idleSpinMicros?: number;
  /** The longest the main thread waits for the reply of an execution that runs alone, in µs (see reply-wait.ts); default replyWaitMicros(). */
  replyWaitMicros?: number;
}

/**
 * How long, at most, a model's worker spins for its next command before it parks: long
 * enough to cover a client's round trip at concurrency 1 on loopback, short enough that
 * an idle server wastes nothing noticeable. NEREID_WORKER_IDLE_SPIN_US overrides it (0: never spin).
 */
const DEFAULT_IDLE_SPIN_MICROS = 300;

export function idleSpinMicros(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.NEREID_WORKER_IDLE_SPIN_US);
  return env.NEREID_WORKER_IDLE_SPIN_US !== undefined && env.NEREID_WORKER_IDLE_SPIN_US !== '' && Number.isFinite(value) && value >= 0 ? value : DEFAULT_IDLE_SPIN_MICROS;
}

/**
 * Inputs up to this size of an execution handed to a busy instance are copied rather than
 * transferred, so that the execution can run elsewhere if the instance is lost before it
 * begins; larger ones are transferred (copying them would cost every request for the sake
 * of a rare retry).
 */
const KEEP_INPUTS_MAX_BYTES = 64 * 1024;

/** The bytes of the tensors' storage. */
function storageBytes(tensors: readonly Tensor[]): number {
  let bytes = 0;
  for (const { data } of tensors) bytes += isPackedBytes(data) ? data.bytes.byteLength : data.byteLength;
  return bytes;
}

interface Pending {
  resolve(result: ExecutionResult): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
  /** Whether the main thread still has the inputs (see KEEP_INPUTS_MAX_BYTES). */
  inputsKept: boolean;
}

/** The requests of one execution of a decoupled model that have not had their final response yet. */
interface OpenResponses {
  sink: ResponseSink;
  open: Set<number>;
  /** Whether the execution itself is still running (its result not yet received). */
  running: boolean;
}

/**
 * Main-thread handle of a model instance that lives in its own worker thread, for any
 * backend whose worker speaks worker-protocol.ts (see worker-host.ts for the other side).
 */
export class WorkerInstance implements ModelInstance {
  private readonly pending = new Map<number, Pending>();
  private readonly responders = new Map<number, OpenResponses>();
  private readonly failureListeners: Array<(error: Error) => void> = [];
  private nextId = 0;
  private closing = false;
  private onClosed: (() => void) | undefined;
  private readonly outbox: Outbox<WorkerCommand>;
  private readonly replyPort: MessagePort;
  private readonly replyWait: ReplyWait;
  private readonly commandSlot: CommandSlotWriter;

  private constructor(
    readonly name: string,
    readonly signature: ModelSignature,
    private readonly worker: Worker,
    private readonly options: WorkerInstanceOptions,
  ) {
    // The worker may be watching this doorbell instead of its event loop (see idle-spin.ts).
    const doorbell = new Int32Array(new SharedArrayBuffer(4));
    this.outbox = new Outbox(worker, () => Atomics.add(doorbell, 0, 1));
    // Replies come on a channel of their own, which the main thread can read synchronously (see reply-wait.ts).
    const { port1, port2 } = new MessageChannel();
    const replyDoorbell = new Int32Array(new SharedArrayBuffer(4));
    this.replyPort = port1;
    const onReplies = (replies: unknown) => {
      for (const reply of replies as WorkerReply[]) this.onReply(reply);
    };
    this.replyWait = new ReplyWait(port1, replyDoorbell, options.replyWaitMicros ?? replyWaitMicros(), onReplies);
    const commandSlot = commandSlotMemory();
    this.commandSlot = new CommandSlotWriter(commandSlot);
    this.outbox.post({ type: 'handoff', doorbell, spinMicros: options.idleSpinMicros ?? idleSpinMicros(), replyPort: port2, replyDoorbell, commandSlot }, [port2]);
    port1.on('message', onReplies);
    // The worker keeps the process alive while it runs; its reply channel need not.
    port1.unref();
    worker.on('message', onReplies);
    worker.on('error', (err) => {
      this.takeReplies();
      this.fail(new Error(`instance ${name} of model ${options.modelLabel} crashed: ${err.message}`));
    });
    worker.on('exit', (code) => {
      // What the worker sent before it ended counts, as it did when replies shared the worker's own port.
      this.takeReplies();
      this.replyPort.close();
      this.onClosed?.();
      if (!this.closing) this.fail(new Error(`instance ${name} of model ${options.modelLabel} exited unexpectedly (code ${code})`));
    });
  }

  /** Starts the worker and resolves once it has loaded the model, or rejects with its reason. */
  static async start(options: WorkerInstanceOptions): Promise<WorkerInstance> {
    const worker = startWorker(options.callerUrl, options.moduleBaseName, { workerData: options.workerData, name: options.instanceName });
    const signature = await new Promise<ModelSignature>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`instance ${options.instanceName} exited with code ${code} while loading`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', ([reply]: WorkerReply[]) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (Array.isArray(reply)) reject(new Error('unexpected result while loading'));
        else if (reply.type === 'ready') resolve(reply.signature);
        else reject(new Error(reply.type === 'load-error' ? reply.message : `unexpected message '${reply.type}' while loading`));
      });
    }).catch(async (err: Error) => {
      await worker.terminate();
      throw err;
    });
    return new WorkerInstance(options.instanceName, signature, worker, options);
  }

  execute(batch: ExecutionBatch, responses?: ResponseSink): Promise<ExecutionResult> {
    if (this.closing) return Promise.reject(new Error(`instance ${this.name} is closed`));
    const id = this.nextId++;
    if (responses) this.responders.set(id, { sink: responses, open: new Set(batch.requests.map((_, k) => k)), running: true });
    const sent: ExecutionBatch = this.options.sendRequests ? batch : { inputs: batch.inputs, outputNames: batch.outputNames, requests: [], cancelled: batch.cancelled };
    const packed = packExecute(id, sent, this.signature);
    // An execution handed over behind another one keeps small inputs (they are copied,
    // not transferred; a packed command always copies them): should the instance be lost
    // before it begins, its requests can run elsewhere (see fail()).
    const inputsKept = this.pending.size > 0 && (packed !== undefined || storageBytes(batch.inputs) <= KEEP_INPUTS_MAX_BYTES);
    const command: WorkerCommand = packed ? packed.message : { type: 'execute', id, batch: sent };
    const transfer = packed ? packed.transfer : inputsKept ? [] : [...transferList(batch.inputs)];
    const idle = this.pending.size === 0;
    return new Promise<ExecutionResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, inputsKept });
      executionStarted();
      this.watchOldest();
      // An idle instance's worker may be spinning for this very command (idle-spin.ts):
      // it goes now rather than at the end of the event-loop turn, through the command
      // slot if the worker watches it (command-slot.ts; the execution starts at once, so
      // its cancellation flags are not needed), and its reply may be worth waiting for
      // (reply-wait.ts). Commands for a busy instance still wait for the end of the
      // turn, to travel together.
      if (idle && packed && this.outbox.isEmpty && this.commandSlot.offer(packed.message[0])) {
        this.replyWait.handedOver(id);
        return;
      }
      this.outbox.post(command, transfer, (err) => this.settle(id, { type: 'error', id, message: `cannot pass the batch to instance ${this.name}: ${err.message}` }));
      if (idle) {
        this.outbox.flush();
        if (this.pending.has(id)) this.replyWait.handedOver(id);
      }
    });
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  /** Lets the model finalize (bounded by CLOSE_GRACE_MS), then stops the worker. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => {
      this.onClosed = resolve;
      setTimeout(resolve, CLOSE_GRACE_MS).unref();
    });
    this.outbox.post({ type: 'close' });
    await closed;
    await this.worker.terminate();
    const unloaded = new Error(`instance ${this.name} was unloaded`);
    this.rejectAll(unloaded);
    this.failOpenResponses(unloaded);
  }

  /** Handles the replies waiting on the reply channel now. */
  private takeReplies(): void {
    for (let received = receiveMessageOnPort(this.replyPort); received; received = receiveMessageOnPort(this.replyPort)) {
      for (const reply of received.message as WorkerReply[]) this.onReply(reply);
    }
  }

  private onReply(reply: WorkerReply): void {
    if (Array.isArray(reply)) {
      const { id, result } = unpackResult(reply, this.signature);
      return this.settle(id, { type: 'result', id, result });
    }
    if (reply.type === 'closed') return this.onClosed?.();
    if (reply.type === 'call') return this.serveCall(reply.id, reply.request);
    if (reply.type === 'response') return this.respond(reply);
    if (reply.type === 'result' || reply.type === 'error') this.settle(reply.id, reply);
  }

  private respond(reply: Extract<WorkerReply, { type: 'response' }>): void {
    const responder = this.responders.get(reply.id);
    if (!responder || !responder.open.has(reply.request)) return;
    if (reply.final) {
      responder.open.delete(reply.request);
      if (responder.open.size === 0 && !responder.running) this.responders.delete(reply.id);
    }
    responder.sink(reply.request, reply.outcome, reply.final);
  }

  /**
   * An execution of a decoupled model returned: its requests still open go on receiving
   * responses. One that failed answers them all through its rejection, so later
   * responses of the model to them are dropped.
   */
  private executionEnded(id: number, failed: boolean): void {
    const responder = this.responders.get(id);
    if (!responder) return;
    responder.running = false;
    if (failed || responder.open.size === 0) this.responders.delete(id);
  }

  /** Closes with `error` every request of an execution that returned and has requests still open. */
  private failOpenResponses(error: Error): void {
    for (const [id, responder] of this.responders) {
      this.responders.delete(id);
      if (responder.running) continue;
      for (const k of responder.open) responder.sink(k, { error: error.message }, true);
    }
  }

  private settle(id: number, reply: Extract<WorkerReply, { type: 'result' | 'error' }>): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    executionsEnded();
    this.replyWait.answered(id);
    clearTimeout(pending.timer);
    this.watchOldest();
    this.executionEnded(id, reply.type === 'error');
    if (reply.type === 'result') pending.resolve(reply.result);
    else pending.reject(new Error(reply.message));
  }

  /**
   * Times the execution that runs now: the oldest one held, since the worker runs them
   * in order. One waiting behind it starts its clock only when it starts to run.
   */
  private watchOldest(): void {
    const timeoutMs = this.options.executeTimeoutMs ?? 0;
    if (timeoutMs <= 0) return;
    const oldest = this.pending.values().next().value;
    if (oldest && !oldest.timer) oldest.timer = setTimeout(() => this.hung(timeoutMs), timeoutMs);
  }

  /** Passes a call of the worker's to the server and sends the answer back, outputs by transfer. */
  private serveCall(id: number, call: CallRequest): void {
    const answer = (outcome: CallOutcome, transfer: ArrayBuffer[] = []) => {
      // A worker stopped meanwhile has nobody left to answer.
      if (!this.closing) this.outbox.post({ type: 'call-result', id, outcome }, transfer);
    };
    const request: InferenceRequest = { model: call.model, inputs: call.inputs };
    if (call.version !== undefined) request.version = call.version;
    if (call.id !== undefined) request.id = call.id;
    if (call.outputs) request.outputs = call.outputs.map((name) => ({ name }));
    if (call.parameters) request.parameters = call.parameters;
    let answered: Promise<InferenceResponse>;
    try {
      if (!this.options.call) throw new Error(`model ${this.options.modelLabel} cannot call other models`);
      answered = this.options.call(request);
    } catch (err) {
      answered = Promise.reject(err);
    }
    answered.then(
      (response) => {
        const outputs = response.outputs.map(ownedTensor);
        const result: Extract<CallOutcome, { response: unknown }>['response'] = { model: response.model, version: response.version, outputs };
        if (response.id !== undefined) result.id = response.id;
        answer({ response: result }, [...transferList(outputs)]);
      },
      (err: unknown) => {
        const error = toInferenceError(err);
        answer({ error: { code: error.code, message: error.message } });
      },
    );
  }

  private hung(timeoutMs: number): void {
    if (this.closing) return;
    const source = this.options.executeTimeoutSource ? ` (${this.options.executeTimeoutSource})` : '';
    this.fail(new Error(`instance ${this.name} of model ${this.options.modelLabel} did not finish an execution within ${timeoutMs} ms${source}; it is stopped and restarted`));
    void this.worker.terminate();
  }

  /**
   * The instance is lost. The worker runs what it holds in order, so the oldest execution
   * held is the one it was running and takes the blame; those behind it never began, and
   * those whose inputs the main thread kept may run elsewhere.
   */
  private fail(error: Error): void {
    this.closing = true;
    const notStarted = new ExecutionNotStartedError(`${error.message} (before this execution began)`);
    let running = true;
    executionsEnded(this.pending.size);
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(!running && pending.inputsKept ? notStarted : error);
      running = false;
    }
    this.pending.clear();
    this.failOpenResponses(error);
    for (const listener of this.failureListeners) listener(error);
  }

  private rejectAll(error: Error): void {
    executionsEnded(this.pending.size);
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }
}
