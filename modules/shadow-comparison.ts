import type { KernelResult } from "../wasm-core/src/mod.ts";

/**
 * How a shadow module's decisions differ from the active module's on the same live requests. Kernel: pods and
 * pod total prices (micros). Agent scoring modules: a decision differs when any score differs by more than
 * SCORE_TOLERANCE, and the "price" delta is the mean |score difference| over the candidates.
 */
export interface ShadowReport {
  readonly version: string;
  /** Decisions both modules answered. */
  readonly compared: number;
  /** Of those, pods with other creatives, another order or another size. */
  readonly differentPods: number;
  readonly podDiffRate: number;
  /** Mean over compared decisions of |pod total price (shadow) - pod total price (active)|, in micros. */
  readonly meanAbsPriceDeltaMicros: number;
  readonly maxAbsPriceDeltaMicros: number;
  /** Shadow calls that failed (trap, timeout, lost worker). */
  readonly failures: number;
  /** Decisions not shadowed because the shadow already had its maximum of calls in flight. */
  readonly skipped: number;
}

export class ShadowComparison {
  compared = 0;
  differentPods = 0;
  failures = 0;
  skipped = 0;
  #priceDeltaSum = 0;
  #priceDeltaMax = 0;

  constructor(readonly version: string) {}

  add(active: KernelResult, shadow: KernelResult): void {
    const samePod = active.count === shadow.count && active.indices.every((c, t) => shadow.indices[t] === c);
    this.record(!samePod, Math.abs(sum(shadow.prices, shadow.count) - sum(active.prices, active.count)));
  }

  /** One compared decision: whether it differs, and by how much (the kind's own measure). */
  record(differs: boolean, delta: number): void {
    this.compared++;
    if (differs) this.differentPods++;
    this.#priceDeltaSum += delta;
    this.#priceDeltaMax = Math.max(this.#priceDeltaMax, delta);
  }

  report(): ShadowReport {
    return {
      version: this.version,
      compared: this.compared,
      differentPods: this.differentPods,
      podDiffRate: this.compared === 0 ? 0 : this.differentPods / this.compared,
      meanAbsPriceDeltaMicros: this.compared === 0 ? 0 : this.#priceDeltaSum / this.compared,
      maxAbsPriceDeltaMicros: this.#priceDeltaMax,
      failures: this.failures,
      skipped: this.skipped,
    };
  }
}

function sum(values: Float32Array, count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += values[i]!;
  return total;
}
