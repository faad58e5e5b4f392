import type { KernelRequest, KernelResult } from "./kernel-inputs.ts";

/** A decision waiting for the kernel pool: its request and the promise to settle. */
export interface PendingDecision {
  readonly request: KernelRequest;
  readonly resolve: (result: KernelResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * FIFO of decisions waiting for a ring slot. Array.shift is O(length): under overload the queue grows, each
 * dispatch gets slower, and the pool falls further behind. A moving head keeps shift O(1).
 */
export class DecisionQueue {
  #items: PendingDecision[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: PendingDecision): void {
    this.#items.push(item);
  }

  shift(): PendingDecision | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Puts decisions back in front, in their order (they were taken first, so they go first again). */
  unshift(items: readonly PendingDecision[]): void {
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  drain(): PendingDecision[] {
    const items = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return items;
  }
}
