/** Outcomes of a module version's most recent calls, for its error rate. A ring of `size` booleans. */
export class FailureWindow {
  readonly #failed: boolean[];
  #next = 0;
  #filled = 0;
  #failures = 0;
  /** Every call since the window was made (not only the last `size`). */
  total = 0;
  lastError = "";

  constructor(readonly size: number) {
    this.#failed = new Array<boolean>(size).fill(false);
  }

  record(failed: boolean, error?: unknown): void {
    if (this.#filled === this.size && this.#failed[this.#next]) this.#failures--;
    this.#failed[this.#next] = failed;
    if (failed) {
      this.#failures++;
      this.lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    this.#next = (this.#next + 1) % this.size;
    this.#filled = Math.min(this.size, this.#filled + 1);
    this.total++;
  }

  get calls(): number {
    return this.#filled;
  }

  get failures(): number {
    return this.#failures;
  }

  get rate(): number {
    return this.#filled === 0 ? 0 : this.#failures / this.#filled;
  }

  /** True once `minCalls` outcomes are in and the failure share is above `threshold`. */
  exceeds(threshold: number, minCalls: number): boolean {
    return this.#filled >= minCalls && this.rate > threshold;
  }
}
