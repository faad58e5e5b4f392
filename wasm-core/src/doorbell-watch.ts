/**
 * How the kernel pool learns that workers finished slots. Workers bump one shared doorbell word per finished
 * slot (kernel-ring.ts ringDoorbell); while decisions are in flight the pool polls it from setImmediate (about
 * 2 us to notice, against about 16 us for an Atomics.waitAsync wake-up, measured on the two-core box), and parks
 * on Atomics.waitAsync once nothing has finished for `pollMicros`. Polling yields to I/O on every turn of the
 * event loop.
 */
import { Doorbell } from "./kernel-ring.ts";

// Atomics.waitAsync ships with Node 20 (V8 11) but enters TypeScript's lib only with es2024.
type WaitAsyncResult =
  | { readonly async: false; readonly value: "not-equal" | "timed-out" }
  | { readonly async: true; readonly value: Promise<"ok" | "timed-out"> };
const { waitAsync } = Atomics as unknown as {
  waitAsync: (array: Int32Array, index: number, value: number) => WaitAsyncResult;
};

export class DoorbellWatch {
  /** The shared words (Doorbell.Count, PoolParked, Spinner), given to every worker. */
  readonly words = new Int32Array(new SharedArrayBuffer(Doorbell.Words * 4));
  #seen = 0;
  /** Not watching (nothing in flight), polling, or parked. */
  #watch: "idle" | "polling" | "parked" = "idle";
  #pollingSince = 0;
  /** An Atomics.waitAsync is outstanding (it cannot be cancelled; at most one at a time). */
  #parked = false;

  constructor(
    private readonly pollMicros: number,
    /** Called once per ring noticed: collect what finished. */
    private readonly onRing: () => void,
  ) {}

  /** Watches until the next ring (call while decisions are in flight). */
  arm(): void {
    if (this.#watch === "polling") return;
    this.#watch = "polling";
    this.#pollingSince = performance.now();
    setImmediate(this.#poll);
  }

  /** Releases an outstanding Atomics.waitAsync so that it cannot keep the process alive (at close). */
  release(): void {
    Atomics.add(this.words, Doorbell.Count, 1);
    Atomics.notify(this.words, Doorbell.Count);
  }

  readonly #poll = (): void => {
    if (this.#watch !== "polling") return;
    if (Atomics.load(this.words, Doorbell.Count) !== this.#seen) {
      this.#ring();
    } else if (performance.now() - this.#pollingSince < this.pollMicros / 1000) {
      setImmediate(this.#poll);
    } else {
      this.#watch = "parked";
      // Raised before waiting: a worker that finishes after this either sees it and notifies, or finished
      // before, in which case waitAsync sees a changed count and returns at once.
      Atomics.store(this.words, Doorbell.PoolParked, 1);
      if (this.#parked) return;
      const wait = waitAsync(this.words, Doorbell.Count, this.#seen);
      if (!wait.async) {
        Atomics.store(this.words, Doorbell.PoolParked, 0);
        setImmediate(this.#ring);
        return;
      }
      this.#parked = true;
      wait.value.then(() => {
        this.#parked = false;
        if (this.#watch === "parked") this.#ring();
      });
    }
  };

  readonly #ring = (): void => {
    this.#watch = "idle";
    // Read before collecting: a slot finishing during the collect changes the word, so the next wait
    // returns at once instead of sleeping on a result that is already there.
    this.#seen = Atomics.load(this.words, Doorbell.Count);
    this.onRing();
  };
}
