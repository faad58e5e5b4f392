/**
 * How far behind this process's event loop is, for load shedding. A timer ticks every `intervalMs`; the lag is how
 * late the last tick ran or, if larger, how overdue the next one already is. The second part is what matters under
 * overload: while a backlog of requests is being worked off in one long turn of the loop, every request handled in
 * that turn sees the lag grow at once, before any tick could run.
 *
 * Why a process needs it: an admission limit on work in flight does not see requests queued in front of the
 * handlers (sockets not yet read, frames not yet parsed). A CPU-starved gateway reads each request long after it was
 * sent, decides it anyway, and answers after the client gave up: goodput falls to nothing. Refusing at once while
 * the loop is late costs a fraction of a decision and lets the loop catch up.
 *
 * Behind, or only late once (`behindMs`): a single stall (a full garbage collection, a scheduling hiccup of a busy
 * machine) makes one tick late and leaves a backlog the loop works off in a few ms per request; refusing that
 * backlog turns one pause into a burst of errors (the soak's refusals, docs/benchmarks.md). A loop that cannot keep
 * up is late at tick after tick. So load is shed only when the last two ticks were both late past the bound, or
 * when the current turn has already run far past it (a flood read in one long turn, before any tick could run).
 *
 * Nobody asking, nothing to measure: after `parkAfterMs` without a read the timer stops (an idle gateway was woken
 * 20 times a second by it), and the next read starts it again and reads 0: a loop that was idle is not behind.
 */
export class LoopLag {
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #expected = 0;
  #lastMs = 0;
  /** How late the tick before the last one ran. */
  #prevMs = 0;
  #lastReadMs = 0;
  /** Ticks run so far: work seen with the same count ran in the same stretch between two ticks. */
  ticks = 0;

  constructor(
    readonly intervalMs = 50,
    readonly parkAfterMs = 1_000,
  ) {}

  start(): this {
    this.#running = true;
    this.#lastReadMs = performance.now();
    this.#arm();
    return this;
  }

  #arm(): void {
    if (this.#timer) return;
    this.#expected = performance.now() + this.intervalMs;
    this.#lastMs = 0;
    this.#prevMs = 0;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#prevMs = this.#lastMs;
      this.#lastMs = Math.max(0, now - this.#expected);
      this.ticks++;
      this.#expected = now + this.intervalMs;
      if (now - this.#lastReadMs > this.parkAfterMs) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    }, this.intervalMs);
    this.#timer.unref();
  }

  /** Milliseconds the loop is behind now (0 when not started, or when the timer was parked until now). */
  get lagMs(): number {
    if (!this.#running) return 0;
    const now = performance.now();
    this.#lastReadMs = now;
    if (!this.#timer) {
      this.#arm();
      return 0;
    }
    return Math.max(this.#lastMs, now - this.#expected);
  }

  /**
   * The lag (as `lagMs`) when the loop is behind by more than `boundMs` for longer than one stall: the last two ticks
   * both ran more than `boundMs` late, or the current turn is already `stallMs` overdue (default four times the
   * bound: longer than any collection pause measured in the gateway). Otherwise 0.
   */
  behindMs(boundMs: number, stallMs = 4 * boundMs): number {
    const lag = this.lagMs;
    if (lag <= boundMs) return 0;
    const standing = this.#lastMs > boundMs && this.#prevMs > boundMs;
    return standing || performance.now() - this.#expected > stallMs ? lag : 0;
  }

  /** True while the timer ticks (started and read within `parkAfterMs`). */
  get ticking(): boolean {
    return this.#timer !== undefined;
  }

  stop(): void {
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#lastMs = 0;
    this.#prevMs = 0;
  }
}
