/**
 * Bidding's scoring module (agent scoring ABI 1): the bid per response unit of each candidate. Pacing (a solved
 * optimisation per campaign) and the Thompson-sampled context multiplier stay in TypeScript; they arrive here.
 *   context: none
 *   features per candidate: [response (>= 0), value per response (micros), context multiplier, pacing multiplier,
 *            cap (micros: min of the max bid and the budget left)]
 *   extra: bid = min(cap, floor(pacing * response * value * multiplier)) / response, 0 without a response
 *   scores: 0 (Bidding gives bids, not scores); confidence 0.6
 */
import {
  capacity,
  configureLayout,
  feature,
  STATUS_BAD_INPUT,
  STATUS_NOT_CONFIGURED,
  STATUS_OK,
  setConfidence,
  setExtra,
  setScore,
} from "./agent-layout";

export { ABI_VERSION, input, output } from "./agent-layout";

export const CONTEXT: i32 = 0;
export const FEATURES: i32 = 5;

export function configure(maxCandidates: i32): i32 {
  return configureLayout(maxCandidates, CONTEXT, FEATURES);
}

export function score(n: i32): i32 {
  if (capacity() == 0) return STATUS_NOT_CONFIGURED;
  if (n < 0 || n > capacity()) return STATUS_BAD_INPUT;
  for (let c = 0; c < n; c++) {
    const response = feature(FEATURES, CONTEXT, c, 0);
    let bid: f64 = 0;
    if (response > 0) {
      const value = response * feature(FEATURES, CONTEXT, c, 1) * feature(FEATURES, CONTEXT, c, 2);
      bid = Math.min(feature(FEATURES, CONTEXT, c, 4), Math.floor(feature(FEATURES, CONTEXT, c, 3) * value)) / response;
    }
    setExtra(c, bid);
    setScore(c, 0);
  }
  setConfidence(0.6);
  return STATUS_OK;
}
