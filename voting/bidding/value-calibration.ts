import { advanceForgetting } from "./forgetting-weight.ts";
import { type Random, sampleGamma } from "./seeded-random.ts";

/**
 * The learned multiplier of one context (e.g. campaign x placement): how many responses an impression there really
 * brings per predicted response. It is a Thompson-sampling bandit over bid multipliers with a conjugate model:
 * responses ~ Poisson(k * sum of predicted responses of won impressions), k ~ Gamma(prior, prior) (mean 1), so the
 * posterior after r responses on exposure e is Gamma(prior + r, prior + e). Each decision bids with a draw of k,
 * which explores where the context is still uncertain and settles as responses come in.
 *
 * Exploration is bounded twice: a draw is clamped to [mean / (1 + maxExploration), mean * (1 + maxExploration)],
 * so no bid strays more than that from the best current estimate, and every multiplier to [minMultiplier,
 * maxMultiplier], so no context can run away on a few lucky responses.
 */
export interface ValueCalibrationOptions {
  /** Prior strength in responses: Gamma(priorResponses, priorResponses), mean 1, CV 1/sqrt(priorResponses). */
  priorResponses: number;
  /** Exposure (predicted responses) after which evidence counts half. */
  halfLife: number;
  /** Largest relative deviation of a Thompson draw from the posterior mean, e.g. 0.2. */
  maxExploration: number;
  minMultiplier: number;
  maxMultiplier: number;
}

export interface ValueCalibration {
  /** Weighted responses observed. */
  responses: number;
  /** Weighted predicted responses of won impressions. */
  exposure: number;
  /** Forgetting clock, advanced by exposure. */
  weight: number;
  /** Bidder observation count when last updated, for evicting idle contexts. */
  lastSeen: number;
}

export function createValueCalibration(lastSeen = 0): ValueCalibration {
  return { responses: 0, exposure: 0, weight: 1, lastSeen };
}

export function checkValueCalibrationOptions(options: ValueCalibrationOptions): void {
  const { priorResponses, halfLife, maxExploration, minMultiplier, maxMultiplier } = options;
  if (!(priorResponses > 0) || !(halfLife > 0)) throw new RangeError("calibration: priorResponses, halfLife > 0");
  if (!(maxExploration >= 0)) throw new RangeError("calibration: maxExploration must be >= 0");
  if (!(minMultiplier > 0) || !(maxMultiplier >= minMultiplier))
    throw new RangeError("calibration: need 0 < minMultiplier <= maxMultiplier");
}

/** A won impression predicted to bring `predictedResponses` responses. Updates in place. */
export function recordExposure(
  calibration: ValueCalibration,
  options: ValueCalibrationOptions,
  predictedResponses: number,
): void {
  if (!(predictedResponses > 0)) return;
  // The clock runs on exposure, so a context forgets at the pace its evidence arrives.
  const weight = advanceForgetting(
    calibration,
    options.halfLife,
    (f) => {
      calibration.responses *= f;
      calibration.exposure *= f;
    },
    predictedResponses,
  );
  calibration.exposure += weight * predictedResponses;
}

/** `count` responses (clicks, completions...) to impressions of this context. Updates in place. */
export function recordResponses(calibration: ValueCalibration, count: number): void {
  if (count > 0) calibration.responses += calibration.weight * count;
}

// The posterior's shape is options.priorResponses + calibration.responses / calibration.weight and its rate
// options.priorResponses + calibration.exposure / calibration.weight (written out where used: a vote draws once per
// campaign, and a [shape, rate] pair per draw was an allocation each).

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Posterior mean of the multiplier (no exploration): what the context is believed to be worth. */
export function meanMultiplier(calibration: ValueCalibration, options: ValueCalibrationOptions): number {
  const shape = options.priorResponses + calibration.responses / calibration.weight;
  const rate = options.priorResponses + calibration.exposure / calibration.weight;
  return clamp(shape / rate, options.minMultiplier, options.maxMultiplier);
}

/** A Thompson draw of the multiplier, within the exploration bounds. */
export function sampleMultiplier(
  calibration: ValueCalibration,
  options: ValueCalibrationOptions,
  random: Random,
): number {
  const shape = options.priorResponses + calibration.responses / calibration.weight;
  const rate = options.priorResponses + calibration.exposure / calibration.weight;
  const mean = shape / rate;
  const spread = 1 + options.maxExploration;
  const draw = clamp(sampleGamma(random, shape, rate), mean / spread, mean * spread);
  return clamp(draw, options.minMultiplier, options.maxMultiplier);
}
