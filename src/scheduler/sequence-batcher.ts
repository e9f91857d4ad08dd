import { performance } from 'node:perf_hooks';
import type { ExecutionBatch, ExecutionResult } from '../backends/index.js';
import { copyTensorData, InferenceError, type Tensor } from '../core/index.js';
import type { ModelSequenceBatching } from '../repository/model-config.js';
import type { SequenceControl, SequenceStateSpec } from '../repository/sequence-batching.js';
import { assembleBatch, splitResult, type RequestResult } from './batch-assembly.js';
import { BatchScheduler, type Execution, type SchedulerContext } from './batch-scheduler.js';
import { LinkedQueue, type QueueNode } from './linked-queue.js';
import type { QueuedRequest } from './queued-request.js';
import { formatSequenceId, sequenceParameters, type SequenceId } from './sequence-parameters.js';
import { controlTensor, initialState, stackStates, unstackState, type ControlRow } from './sequence-tensors.js';

/** One live sequence: its waiting requests, its place on an instance and its implicit state. */
interface ActiveSequence {
  readonly key: string;
  readonly id: SequenceId;
  readonly requests: LinkedQueue<QueuedRequest>;
  /** Its instance and slot there; undefined while it waits in the backlog for a free slot. */
  instance: InstanceSlots | undefined;
  slot: number;
  backlogNode: QueueNode<ActiveSequence> | undefined;
  /** One of its requests is executing: the next waits for its state. */
  busy: boolean;
  /** Its END request is queued: only a new START may follow. */
  ending: boolean;
  /** Its implicit states after its last request, in the order of the config; undefined before the first. */
  states: Tensor[] | undefined;
  /** performance.now() of its last arrival or answer: it idles from then. */
  activeMs: number;
}

/** The sequence slots of one instance (by name, so that a restarted instance keeps them). */
interface InstanceSlots {
  readonly name: string;
  readonly slots: (ActiveSequence | undefined)[];
}

/** What the batcher knows of a queued request beyond the request itself. */
interface SequenceRequest {
  sequence: ActiveSequence;
  start: boolean;
  end: boolean;
}

/** How many released sequences are remembered, to tell their next request why it fails. */
const REMEMBERED_RELEASES = 10_000;

/**
 * Triton's sequence batcher. Every request names a sequence (sequence_id, with
 * sequence_start on its first request and sequence_end on its last). A new sequence
 * takes a slot on one instance and keeps it until it ends or idles out; while every
 * slot is taken, new sequences wait in a backlog. Requests of one sequence execute one
 * at a time, in order, always on its instance; requests of different sequences on an
 * instance batch together. The batcher fills the model's control inputs (START, END,
 * READY, CORRID) and keeps implicit state: each sequence's state output is fed back as
 * its next state input, reset on START and freed when the sequence ends or idles out.
 *
 * Strategies: `direct` gives each instance max_batch_size slots and runs every slot
 * that has a request waiting; `oldest` gives each instance max_candidate_sequences
 * slots and batches the oldest waiting requests, at most max_batch_size of them, with
 * preferred sizes and a queue delay as the dynamic batcher. Batches are compact (no
 * READY=0 filler rows): Nereid's backends keep no per-slot state, the server does.
 */
export class SequenceBatcher extends BatchScheduler {
  private readonly batching: ModelSequenceBatching;
  private readonly controls: readonly SequenceControl[];
  private readonly states: readonly SequenceStateSpec[];
  private readonly stateOutputs: ReadonlySet<string>;
  /** State outputs also listed under `output`: a client that asks for one gets it. */
  private readonly returnedStates: ReadonlySet<string>;
  private readonly batched: boolean;
  private readonly maxRows: number;
  private readonly instances: InstanceSlots[];
  private readonly sequences = new Map<string, ActiveSequence>();
  private readonly backlog = new LinkedQueue<ActiveSequence>();
  private readonly requestInfo = new Map<QueuedRequest, SequenceRequest>();
  /** Sequences released for idling, with how long they had been idle (µs), for the error on their next request. */
  private readonly released = new Map<string, number>();
  private readonly idleMs: number;
  private readonly delayMs: number;
  private readonly targetRows: number;
  private readonly minimumReady: number;
  private waiting = 0;
  private nextInstance = 0;
  private reaper: NodeJS.Timeout | undefined;
  private delayTimer: NodeJS.Timeout | undefined;

  constructor(context: SchedulerContext, controls: readonly SequenceControl[], states: readonly SequenceStateSpec[]) {
    super(context);
    this.batching = context.config.sequence_batching!;
    this.controls = controls;
    this.states = states;
    this.stateOutputs = new Set(states.map((s) => s.outputName));
    this.returnedStates = new Set(states.map((s) => s.outputName).filter((name) => context.config.output.some((o) => o.name === name)));
    this.batched = context.config.max_batch_size > 0;
    this.maxRows = Math.max(1, context.config.max_batch_size);
    this.idleMs = this.batching.max_sequence_idle_microseconds / 1000;
    const { oldest, direct } = this.batching;
    const slotsPerInstance = oldest ? Math.max(1, oldest.max_candidate_sequences) : this.maxRows;
    this.instances = context.pool.instanceNames.map((name) => ({ name, slots: new Array(slotsPerInstance).fill(undefined) }));
    this.delayMs = (oldest?.max_queue_delay_microseconds ?? direct?.max_queue_delay_microseconds ?? 0) / 1000;
    this.targetRows = oldest && oldest.preferred_batch_size.length > 0 ? Math.max(...oldest.preferred_batch_size) : this.maxRows;
    this.minimumReady = direct ? Math.ceil(direct.minimum_slot_utilization * slotsPerInstance) : 0;
    this.preserveOrdering = oldest?.preserve_ordering ?? false;
  }

  get queuedCount(): number {
    return this.waiting;
  }

  override drain(): Promise<void> {
    return super.drain().then(() => this.stopTimers());
  }

  protected admit(queued: QueuedRequest): InferenceError | undefined {
    const request = queued.prepared.request;
    let parameters;
    try {
      parameters = sequenceParameters(request.parameters);
    } catch (err) {
      return err as InferenceError;
    }
    const { id, start, end } = parameters;
    if (id === undefined) {
      return new InferenceError('INVALID_ARG', `inference request to model '${this.modelName}' must specify a non-zero or non-empty correlation ID`);
    }
    if (queued.rows !== 1) {
      return new InferenceError(
        'INVALID_ARG',
        `inference request to model '${this.modelName}' must specify batch-size 1 due to requirements of sequence batcher`,
      );
    }
    const corrid = this.controls.find((c) => c.kind === 'CONTROL_SEQUENCE_CORRID');
    if (corrid && typeof id === 'string' && corrid.datatype !== 'BYTES') {
      return new InferenceError(
        'INVALID_ARG',
        `inference request to model '${this.modelName}' has the string sequence_id '${id}', but the model takes its correlation ID as ${corrid.datatype} in control input '${corrid.inputName}': send an integer sequence_id`,
      );
    }
    const key = typeof id === 'number' ? `#${id}` : `'${id}`;
    let sequence = this.sequences.get(key);
    if (!start && (!sequence || sequence.ending)) {
      const idleUs = this.released.get(key);
      const why =
        idleUs === undefined
          ? ''
          : ` (the sequence was released after ${Math.round(idleUs / 1000)} ms without requests, beyond max_sequence_idle_microseconds ${this.batching.max_sequence_idle_microseconds})`;
      return new InferenceError(
        'INVALID_ARG',
        `inference request for sequence ${formatSequenceId(id)} to model '${this.modelName}' must specify the START flag on the first request of the sequence${why}`,
      );
    }
    if (start) this.released.delete(key);
    if (!sequence) {
      sequence = this.open(key, id);
    }
    sequence.ending = end;
    sequence.activeMs = queued.arrivalMs;
    queued.node = sequence.requests.push(queued);
    this.requestInfo.set(queued, { sequence, start, end });
    this.waiting++;
    return undefined;
  }

  protected remove(queued: QueuedRequest): void {
    const info = this.requestInfo.get(queued);
    if (!queued.node || !info) return;
    info.sequence.requests.remove(queued.node);
    queued.node = undefined;
    this.waiting--;
    // A request that never executes leaves its sequence as if it had not been sent.
    this.requestInfo.delete(queued);
  }

  protected takeAll(): QueuedRequest[] {
    const all: QueuedRequest[] = [];
    for (const sequence of this.sequences.values()) for (const queued of sequence.requests) all.push(queued);
    for (const queued of all) this.remove(queued);
    return all;
  }

  /** Under the rate limiter, only an instance with a sequence ready to run asks for resources. */
  protected override hasWorkFor(instanceName: string): boolean {
    const slots = this.instances.find((instance) => instance.name === instanceName);
    return slots !== undefined && slots.slots.some((sequence) => sequence !== undefined && !sequence.busy && sequence.requests.size > 0);
  }

  protected nextExecution(nowMs: number): Execution | undefined {
    this.clearDelayTimer();
    // Under the rate limiter the instance is chosen (and its resources granted) already: only its sequences may run.
    const granted = this.grantedInstance;
    if (granted) {
      const slots = this.instances.find((instance) => instance.name === granted.name);
      const batch = slots && this.batchFor(slots, nowMs);
      return batch && { instance: granted, batch };
    }
    const count = this.instances.length;
    for (let k = 0; k < count; k++) {
      const slots = this.instances[(this.nextInstance + k) % count];
      if (!this.pool.hasFreeSlotNamed(slots.name)) continue;
      const batch = this.batchFor(slots, nowMs);
      if (!batch) continue;
      this.nextInstance = (this.nextInstance + k + 1) % count;
      return { instance: this.pool.acquireNamed(slots.name)!, batch };
    }
    return undefined;
  }

  protected override assemble(batch: QueuedRequest[]): ExecutionBatch {
    const assembled = assembleBatch(batch, this.config);
    const rows: ControlRow[] = [];
    const sequences: ActiveSequence[] = [];
    for (const queued of batch) {
      const info = this.requestInfo.get(queued)!;
      rows.push({ start: info.start, end: info.end, id: info.sequence.id });
      // START resets the state, whether or not this execution succeeds.
      if (info.start) info.sequence.states = undefined;
      sequences.push(info.sequence);
    }
    for (const control of this.controls) assembled.inputs.push(controlTensor(control, rows, this.batched));
    this.states.forEach((spec, s) => {
      const states = sequences.map((sequence) => sequence.states?.[s] ?? initialState(spec));
      assembled.inputs.push(this.batched ? stackStates(spec, states) : { ...states[0], name: spec.inputName, data: copyTensorData(states[0].data) });
    });
    if (this.states.length > 0) {
      const stateOutputs = this.states.map((s) => s.outputName);
      const withStates = (names: readonly string[]) => [...names, ...stateOutputs.filter((name) => !names.includes(name))];
      assembled.outputNames = withStates(assembled.outputNames);
      // A backend that answers request by request (JavaScript) returns only what each request asks for.
      assembled.requests = assembled.requests.map((request) => ({ ...request, outputNames: withStates(request.outputNames) }));
    }
    return assembled;
  }

  protected override split(result: Exclude<ExecutionResult, { kind: 'decoupled' }>, batch: QueuedRequest[]): RequestResult[] {
    if (this.states.length === 0) return splitResult(result, batch, this.config);
    if (result.kind === 'per-request') {
      const responses = result.responses.map((response, k) => {
        if ('error' in response) return response;
        const states = this.states.map((spec) => response.outputs.find((o) => o.name === spec.outputName));
        if (states.every((state) => state !== undefined)) this.keepStates(batch[k], states.map((state, s) => this.oneState(this.states[s], state!, 0)));
        const asked = batch[k].prepared.outputNames;
        return { outputs: response.outputs.filter((o) => !this.stateOutputs.has(o.name) || asked.includes(o.name)) };
      });
      return splitResult({ ...result, responses }, batch, this.config);
    }
    for (const spec of this.states) {
      const output = result.outputs.find((o) => o.name === spec.outputName);
      const rows = this.batched ? output?.shape[spec.batchAxis] : 1;
      if (!output || rows !== batch.length) {
        const error = output
          ? `state output '${spec.outputName}' has shape [${output.shape.join(',')}] for a batch of ${batch.length} sequence(s) (batch axis ${spec.batchAxis})`
          : `the backend returned no state output '${spec.outputName}'`;
        return batch.map(() => ({ error }));
      }
    }
    batch.forEach((queued, row) => {
      this.keepStates(queued, this.states.map((spec) => this.oneState(spec, result.outputs.find((o) => o.name === spec.outputName)!, row)));
    });
    return splitResult({ ...result, outputs: result.outputs.filter((o) => !this.stateOutputs.has(o.name) || this.returnedStates.has(o.name)) }, batch, this.config);
  }

  protected override executionOver(batch: QueuedRequest[]): void {
    const nowMs = performance.now();
    for (const queued of batch) {
      const info = this.requestInfo.get(queued);
      if (!info) continue;
      this.requestInfo.delete(queued);
      const { sequence } = info;
      sequence.busy = false;
      sequence.activeMs = nowMs;
      if (info.end) {
        sequence.states = undefined;
        if (sequence.requests.size === 0) this.close(sequence);
      }
    }
  }

  private oneState(spec: SequenceStateSpec, output: Tensor, row: number): Tensor {
    if (this.batched) return unstackState(spec, output, row);
    return { name: spec.inputName, datatype: spec.datatype, shape: [...output.shape], data: copyTensorData(output.data) };
  }

  private keepStates(queued: QueuedRequest, states: Tensor[]): void {
    const info = this.requestInfo.get(queued);
    if (info) info.sequence.states = states;
  }

  /** A new sequence takes a free slot (on the instance with the most free slots) or waits in the backlog. */
  private open(key: string, id: SequenceId): ActiveSequence {
    const sequence: ActiveSequence = {
      key,
      id,
      requests: new LinkedQueue(),
      instance: undefined,
      slot: -1,
      backlogNode: undefined,
      busy: false,
      ending: false,
      states: undefined,
      activeMs: performance.now(),
    };
    this.sequences.set(key, sequence);
    if (!this.place(sequence)) sequence.backlogNode = this.backlog.push(sequence);
    this.startReaper();
    return sequence;
  }

  private place(sequence: ActiveSequence): boolean {
    let best: InstanceSlots | undefined;
    let bestFree = 0;
    for (const instance of this.instances) {
      let free = 0;
      for (const slot of instance.slots) if (!slot) free++;
      if (free > bestFree) {
        best = instance;
        bestFree = free;
      }
    }
    if (!best) return false;
    sequence.instance = best;
    sequence.slot = best.slots.indexOf(undefined);
    best.slots[sequence.slot] = sequence;
    return true;
  }

  /** Frees the sequence's slot (and state) and gives the slot to the oldest sequence of the backlog. */
  private close(sequence: ActiveSequence): void {
    this.sequences.delete(sequence.key);
    sequence.states = undefined;
    if (sequence.backlogNode) this.backlog.remove(sequence.backlogNode);
    sequence.backlogNode = undefined;
    if (sequence.instance) {
      sequence.instance.slots[sequence.slot] = undefined;
      sequence.instance = undefined;
      const next = this.backlog.shift();
      if (next) {
        next.backlogNode = undefined;
        this.place(next);
      }
    }
    if (this.sequences.size === 0) this.stopTimers();
  }

  /**
   * The next batch for an idle instance: the head request of each of its sequences that
   * has one waiting and none executing, oldest first, alike in shape, at most
   * max_batch_size. It waits (up to the queue delay) for a fuller batch while the batch
   * is short of the preferred size (oldest) or of the minimum slot utilization (direct),
   * unless every sequence of the instance is already in it.
   */
  private batchFor(instance: InstanceSlots, nowMs: number): QueuedRequest[] | undefined {
    const ready: QueuedRequest[] = [];
    let active = 0;
    for (const sequence of instance.slots) {
      if (!sequence) continue;
      active++;
      const head = sequence.requests.peek();
      if (head && !sequence.busy) ready.push(head);
    }
    if (ready.length === 0) return undefined;
    if (this.batching.oldest) ready.sort((a, b) => a.arrivalMs - b.arrivalMs);
    const key = ready[0].batchKey;
    const batch: QueuedRequest[] = [];
    for (const queued of ready) {
      if (batch.length === this.maxRows) break;
      if (queued.batchKey === key) batch.push(queued);
    }
    if (!this.fullEnough(batch, active, nowMs)) return undefined;
    for (const queued of batch) {
      const info = this.requestInfo.get(queued)!;
      info.sequence.requests.remove(queued.node!);
      queued.node = undefined;
      info.sequence.busy = true;
      this.waiting--;
    }
    return batch;
  }

  private fullEnough(batch: QueuedRequest[], activeOnInstance: number, nowMs: number): boolean {
    if (this.delayMs === 0 || this.draining || batch.length >= activeOnInstance) return true;
    const wanted = this.batching.oldest ? this.targetRows : this.minimumReady;
    if (batch.length >= wanted) return true;
    let oldestMs = Infinity;
    for (const queued of batch) oldestMs = Math.min(oldestMs, queued.arrivalMs);
    const waitedMs = nowMs - oldestMs;
    if (waitedMs >= this.delayMs) return true;
    this.armDelayTimer(this.delayMs - waitedMs);
    return false;
  }

  private armDelayTimer(remainingMs: number): void {
    if (this.delayTimer) return;
    this.delayTimer = setTimeout(() => {
      this.delayTimer = undefined;
      this.dispatch();
    }, Math.max(1, Math.ceil(remainingMs)));
  }

  private clearDelayTimer(): void {
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
  }

  /** Releases sequences that have neither waited nor executed for max_sequence_idle_microseconds. */
  private startReaper(): void {
    if (this.reaper) return;
    const periodMs = Math.min(1000, Math.max(5, this.idleMs / 4));
    this.reaper = setInterval(() => this.reap(), periodMs);
    this.reaper.unref();
  }

  private reap(): void {
    const nowMs = performance.now();
    for (const sequence of [...this.sequences.values()]) {
      if (sequence.busy || sequence.requests.size > 0 || nowMs - sequence.activeMs < this.idleMs) continue;
      this.released.set(sequence.key, (nowMs - sequence.activeMs) * 1000);
      if (this.released.size > REMEMBERED_RELEASES) this.released.delete(this.released.keys().next().value!);
      this.close(sequence);
    }
    this.dispatch();
  }

  private stopTimers(): void {
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = undefined;
    this.clearDelayTimer();
  }
}
