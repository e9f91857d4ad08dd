/**
 * A decoupled model's side of its responses: one ResponseSender per request of an
 * execution. Each send() is checked against the configuration like a returned response,
 * then travels to the main thread as a 'response' message, its output buffers transferred.
 */
import type { RequestOutcome } from '../backend.js';
import type { Outbox } from '../outbox.js';
import { transferList, type WorkerReply } from '../worker-protocol.js';
import type { ModelResponse, ResponseSender, SendOptions } from './model-api.js';
import { requestOutcome, type ResponseContext } from './model-responses.js';

class RequestResponseSender implements ResponseSender {
  private ended = false;

  constructor(
    private readonly execution: ExecutionResponses,
    private readonly index: number,
    private readonly cancelled: () => boolean,
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  isCancelled(): boolean {
    return this.cancelled();
  }

  send(response: ModelResponse | undefined, options: SendOptions = {}): void {
    const final = options?.final === true;
    if (this.ended) {
      throw new Error(`request ${this.index} of this execution has already had its final response (or was ended by an error); send() cannot be called for it again`);
    }
    if (response === undefined && !final) throw new TypeError('send(undefined) only closes a request: pass { final: true }, or a response to send');
    if (final) this.ended = true;
    this.execution.post(this.index, response === undefined ? undefined : this.execution.outcome(response, this.index), final);
  }

  /** The request is over without a word to the client from here (the execution failed, and the server answers it). */
  end(): void {
    this.ended = true;
  }
}

export class ExecutionResponses {
  readonly senders: RequestResponseSender[];

  constructor(
    private readonly executionId: number,
    private readonly context: ResponseContext,
    private readonly toMainThread: Outbox<WorkerReply>,
    /** Whether each request's client has gone away. */
    cancelled: readonly (() => boolean)[],
  ) {
    this.senders = context.rows.map((_, k) => new RequestResponseSender(this, k, cancelled[k]));
  }

  /** A response need not hold every row of its request (one response per row is common), so rows are not checked. */
  outcome(response: ModelResponse, index: number): RequestOutcome {
    return requestOutcome(response, index, { ...this.context, rows: this.context.rows.map(() => undefined) });
  }

  post(index: number, outcome: RequestOutcome | undefined, final: boolean): void {
    const reply: WorkerReply = { type: 'response', id: this.executionId, request: index, final };
    if (outcome) reply.outcome = outcome;
    const transfer = outcome && 'outputs' in outcome ? [...transferList(outcome.outputs)] : [];
    // A response that cannot be passed on still reaches its client, as an error, so that its final flag is never lost.
    this.toMainThread.post(reply, transfer, (err) =>
      this.toMainThread.post({ type: 'response', id: this.executionId, request: index, outcome: { error: `cannot pass the response to the server: ${err.message}` }, final }),
    );
  }

  /** Ends every request still open: execute() failed, and the server answers them with its error. */
  endAll(): void {
    for (const sender of this.senders) sender.end();
  }

  /** Ends every request still open with `error` (execute() returned without closing them wrongly). */
  failOpen(error: string): void {
    for (const sender of this.senders) if (!sender.closed) sender.send({ error }, { final: true });
  }
}
