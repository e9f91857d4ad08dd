import type { ModelDynamicBatching, ModelQueuePolicy } from '../repository/model-config.js';
import { LinkedQueue } from './linked-queue.js';
import type { QueuedRequest } from './queued-request.js';

/** A queue policy as config.pbtxt gives it; absent, Triton's defaults (REJECT, no timeout, no limit). */
const DEFAULT_POLICY: ModelQueuePolicy = {
  timeout_action: 'REJECT',
  default_timeout_microseconds: 0,
  allow_timeout_override: false,
  max_queue_size: 0,
};

/** The requests of one priority level: those within their timeout, then those delayed past it. */
class PriorityLevel {
  readonly waiting = new LinkedQueue<QueuedRequest>();
  readonly delayed = new LinkedQueue<QueuedRequest>();

  constructor(
    readonly level: number,
    readonly policy: ModelQueuePolicy,
  ) {}

  get size(): number {
    return this.waiting.size + this.delayed.size;
  }
}

/**
 * Triton's priority queue: levels 1 (highest) to priority_levels, or a single level 0
 * when the model has none; each level has its queue policy and is first-in first-out,
 * with requests delayed by a DELAY policy behind the level's others.
 */
export class PriorityQueue {
  private readonly levels: PriorityLevel[];
  private readonly defaultLevel: number;
  private count = 0;
  private rowCount = 0;
  /** One level, and no request can have a timeout: the front request is the oldest and nothing expires. */
  readonly untimedSingleLevel: boolean;

  constructor(batching: ModelDynamicBatching) {
    const defaultPolicy = batching.default_queue_policy ?? DEFAULT_POLICY;
    const policyOf = (level: number) => batching.priority_queue_policy[String(level)] ?? defaultPolicy;
    const numbers = batching.priority_levels > 0 ? Array.from({ length: batching.priority_levels }, (_, i) => i + 1) : [0];
    this.levels = numbers.map((level) => new PriorityLevel(level, policyOf(level)));
    this.defaultLevel = batching.priority_levels > 0 ? batching.default_priority_level : 0;
    const [only] = this.levels;
    this.untimedSingleLevel = this.levels.length === 1 && only.policy.default_timeout_microseconds === 0 && !only.policy.allow_timeout_override;
  }

  /** Rows of every queued request together. */
  get rows(): number {
    return this.rowCount;
  }

  /** The request served first, left in place. */
  front(): QueuedRequest | undefined {
    for (const level of this.levels) {
      const first = level.waiting.peek() ?? level.delayed.peek();
      if (first) return first;
    }
    return undefined;
  }

  get size(): number {
    return this.count;
  }

  /** The level a request's `priority` parameter selects: 0 or out of range means the default level, as in Triton. */
  levelFor(priority: number): number {
    if (this.levels.length === 1 && this.levels[0].level === 0) return 0;
    return priority === 0 || priority > this.levels.length ? this.defaultLevel : priority;
  }

  policyOf(level: number): ModelQueuePolicy {
    return this.at(level).policy;
  }

  /** Queues `request` at its level, or returns the max_queue_size it would exceed. */
  push(request: QueuedRequest): number | undefined {
    const level = this.at(request.level);
    const limit = level.policy.max_queue_size;
    if (limit > 0 && level.size >= limit) return limit;
    request.node = level.waiting.push(request);
    this.count++;
    this.rowCount += request.rows;
    return undefined;
  }

  remove(request: QueuedRequest): void {
    const queue = request.node?.queue;
    if (!queue) return;
    queue.remove(request.node!);
    request.node = undefined;
    this.count--;
    this.rowCount -= request.rows;
  }

  /** Moves a request whose timeout expired under a DELAY policy behind the others of its level. */
  delay(request: QueuedRequest): void {
    if (!request.node?.queue) return;
    request.node.queue.remove(request.node);
    request.node = this.at(request.level).delayed.push(request);
  }

  /** Every queued request in the order they are served; see LinkedQueue for removal while iterating. */
  *[Symbol.iterator](): Iterator<QueuedRequest> {
    for (const level of this.levels) {
      yield* level.waiting;
      yield* level.delayed;
    }
  }

  takeAll(): QueuedRequest[] {
    const all = [...this];
    for (const request of all) this.remove(request);
    return all;
  }

  private at(level: number): PriorityLevel {
    return this.levels[level === 0 ? 0 : level - 1];
  }
}
