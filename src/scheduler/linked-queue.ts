/** A place in a LinkedQueue, kept by its owner so that removal is O(1). */
export interface QueueNode<T> {
  readonly value: T;
  prev: QueueNode<T> | undefined;
  next: QueueNode<T> | undefined;
  queue: LinkedQueue<T> | undefined;
}

/**
 * A FIFO with O(1) push, shift and removal from the middle: queued requests leave from
 * anywhere (client gone, timeout expired), and an array's splice would be O(n) each time.
 */
export class LinkedQueue<T> {
  private head: QueueNode<T> | undefined;
  private tail: QueueNode<T> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(value: T): QueueNode<T> {
    const node: QueueNode<T> = { value, prev: this.tail, next: undefined, queue: this };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.count++;
    return node;
  }

  unshift(value: T): QueueNode<T> {
    const node: QueueNode<T> = { value, prev: undefined, next: this.head, queue: this };
    if (this.head) this.head.prev = node;
    else this.tail = node;
    this.head = node;
    this.count++;
    return node;
  }

  /** The front value, left in place. */
  peek(): T | undefined {
    return this.head?.value;
  }

  shift(): T | undefined {
    const node = this.head;
    if (!node) return undefined;
    this.remove(node);
    return node.value;
  }

  /** Removes `node` if it is still in this queue. */
  remove(node: QueueNode<T>): void {
    if (node.queue !== this) return;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = node.queue = undefined;
    this.count--;
  }

  /** Front to back; the value being visited (and only it) may be removed or moved elsewhere during its visit. */
  *[Symbol.iterator](): Iterator<T> {
    for (let node = this.head; node; ) {
      const next = node.next;
      yield node.value;
      node = next;
    }
  }
}
