/** How a sender sees one of its requests: whether it has ended, and how to cancel it. */
export interface SweptRequests<T> {
  closed(request: T): boolean;
  cancel(request: T): void;
}

/**
 * Cancels requests still open past their deadline. Every request of a sender has the same timeout, so they expire
 * in send order: one FIFO swept every `everyMs` costs far less than a timer per request. Deadlines are kept beside
 * the requests (no wrapper object per request).
 */
export class DeadlineSweeper<T> {
  private readonly requests: T[] = [];
  private readonly deadlines: number[] = [];
  private head = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private readonly swept: SweptRequests<T>,
    everyMs = 50,
  ) {
    this.timer = setInterval(() => this.sweep(), everyMs);
  }

  /** Starts the request's deadline now. */
  add(request: T): void {
    this.requests.push(request);
    this.deadlines.push(performance.now() + this.timeoutMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    const now = performance.now();
    const { requests, deadlines, swept } = this;
    while (this.head < requests.length) {
      const request = requests[this.head]!;
      const closed = swept.closed(request);
      if (!closed && deadlines[this.head]! > now) break;
      if (!closed) swept.cancel(request);
      this.head++;
    }
    // Drop the swept prefix now and then, not on every sweep (a splice copies the rest).
    if (this.head > 4096) {
      requests.splice(0, this.head);
      deadlines.splice(0, this.head);
      this.head = 0;
    }
  }
}
