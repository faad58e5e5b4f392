/**
 * Logistic regression trained online with FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the
 * Trenches", KDD 2013, algorithm 1) over hashed binary features: per-coordinate learning rates and L1 sparsity.
 * Weights are not stored: w_i is a closed form of (z_i, n_i), so the state is just two float arrays.
 */
export interface FtrlParams {
  alpha: number;
  beta: number;
  l1: number;
  l2: number;
}

export const DEFAULT_FTRL: FtrlParams = { alpha: 0.1, beta: 1, l1: 0.5, l2: 1 };

export interface FtrlModel {
  z: Float32Array;
  n: Float32Array;
}

export function createFtrlModel(size: number): FtrlModel {
  return { z: new Float32Array(size), n: new Float32Array(size) };
}

/** w_i, the closed form of (z_i, n_i). */
export function weight(m: FtrlModel, i: number, p: FtrlParams): number {
  const z = m.z[i]!;
  if (Math.abs(z) <= p.l1) return 0;
  return -(z - Math.sign(z) * p.l1) / ((p.beta + Math.sqrt(m.n[i]!)) / p.alpha + p.l2);
}

/** The logit for a set of active feature slots (binary features). */
export function logit(m: FtrlModel, slots: readonly number[], p: FtrlParams = DEFAULT_FTRL): number {
  let s = 0;
  for (const i of slots) s += weight(m, i, p);
  return s;
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-Math.max(-35, Math.min(35, x))));

/** One example: gradient of log loss at p = sigmoid(logit + offset) is (p - y) per active slot. */
export function train(
  m: FtrlModel,
  slots: readonly number[],
  y: 0 | 1,
  offset: number,
  p: FtrlParams = DEFAULT_FTRL,
): void {
  const prob = sigmoid(logit(m, slots, p) + offset);
  const g = prob - y;
  for (const i of slots) {
    const n = m.n[i]!;
    const sigma = (Math.sqrt(n + g * g) - Math.sqrt(n)) / p.alpha;
    m.z[i] = m.z[i]! + g - sigma * weight(m, i, p);
    m.n[i] = n + g * g;
  }
}
