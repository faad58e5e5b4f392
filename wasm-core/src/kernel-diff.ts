/** How the hot-swap self-test and the property tests compare a module's result with the reference. */
import type { KernelResult } from "./kernel-inputs.ts";

/**
 * Floats agree when |a - b| <= RESULT_TOLERANCE * max(1, |a|, |b|). Our builds match the reference bit for
 * bit (the operation order is pinned); the tolerance leaves room for a module compiled another way.
 */
export const RESULT_TOLERANCE = 1e-5;

const FLOAT_FIELDS = ["prices", "ranks", "qualities", "relevances", "contributions"] as const;

function close(a: number, b: number, tolerance: number): boolean {
  if (a === b) return true; // also equal infinities, and -0 vs +0
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Why two results differ, or undefined: winners and counts must be identical, floats within tolerance. */
export function diffKernelResults(
  actual: KernelResult,
  expected: KernelResult,
  tolerance = RESULT_TOLERANCE,
): string | undefined {
  if (actual.count !== expected.count) return `count ${actual.count}, expected ${expected.count}`;
  if (actual.eligibleCount !== expected.eligibleCount) {
    return `eligibleCount ${actual.eligibleCount}, expected ${expected.eligibleCount}`;
  }
  if (actual.vetoedCount !== expected.vetoedCount)
    return `vetoedCount ${actual.vetoedCount}, expected ${expected.vetoedCount}`;
  for (let t = 0; t < expected.count; t++) {
    if (actual.indices[t] !== expected.indices[t]) {
      return `ad ${t} is candidate ${actual.indices[t]}, expected ${expected.indices[t]}`;
    }
  }
  for (const field of FLOAT_FIELDS) {
    const x = actual[field];
    const y = expected[field];
    if (x.length !== y.length) return `${field} has ${x.length} values, expected ${y.length}`;
    for (let i = 0; i < y.length; i++) {
      if (!close(x[i]!, y[i]!, tolerance)) return `${field}[${i}] = ${x[i]}, expected ${y[i]}`;
    }
  }
  return undefined;
}
