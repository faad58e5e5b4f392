/**
 * Work that must happen after a decision but not before its response: queued, and run in one batch on the next
 * turn of the event loop (one setImmediate for every decision of a burst), so the AuctionOutcome's build and
 * encode never sit on the response path. Nothing is dropped: `flush` runs what is still queued.
 */
export class DeferredBatch {
  private queue: (() => void)[] = [];
  private scheduled = false;

  push(task: () => void): void {
    this.queue.push(task);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const tasks = this.queue;
    this.queue = [];
    // Each task handles its own errors (publishOutcome logs and drops one example).
    for (const task of tasks) task();
  }
}
