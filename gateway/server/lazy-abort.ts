import type { Cancellation } from "./ports.ts";

/**
 * A call's cancellation kept as two plain fields, its AbortSignal built only when a handler asks for one (to listen,
 * or to pass to an API that wants a signal). Why: on Node 20 every AbortSignal outlives the young generation and
 * dies in old space (a micro-benchmark of one AbortController per iteration ran 26 full collections per million,
 * against none for a plain object; Node 24 runs none either), and a gateway's old space is collected in pauses of
 * 60-200 ms. Decide only reads `aborted` and `reason`, so on its path no signal is built.
 */
export class LazyAbort implements Cancellation {
  aborted = false;
  reason: unknown = undefined;
  #controller: AbortController | undefined;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
  }
}
