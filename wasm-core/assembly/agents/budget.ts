/**
 * Budget's scoring module (agent scoring ABI 1): favour campaigns behind plan.
 *   context: none
 *   features per candidate: [known (1: the agent tracks the campaign), pace ratio (spent / planned so far)]
 *   scores: 0.5 for an unknown campaign, else clamp(0.5 + (1 - pace) / 2, 0, 1)
 *   confidence: known candidates / candidates (0, "no opinion", when none is known)
 */
import {
  capacity,
  configureLayout,
  feature,
  STATUS_BAD_INPUT,
  STATUS_NOT_CONFIGURED,
  STATUS_OK,
  setConfidence,
  setScore,
} from "./agent-layout";

export { ABI_VERSION, input, output } from "./agent-layout";

export const CONTEXT: i32 = 0;
export const FEATURES: i32 = 2;

export function configure(maxCandidates: i32): i32 {
  return configureLayout(maxCandidates, CONTEXT, FEATURES);
}

export function score(n: i32): i32 {
  if (capacity() == 0) return STATUS_NOT_CONFIGURED;
  if (n < 0 || n > capacity()) return STATUS_BAD_INPUT;
  let known = 0;
  for (let c = 0; c < n; c++) {
    if (feature(FEATURES, CONTEXT, c, 0) == 0) {
      setScore(c, 0.5);
      continue;
    }
    known++;
    setScore(c, Math.min(1, Math.max(0, 0.5 + (1 - feature(FEATURES, CONTEXT, c, 1)) / 2)));
  }
  setConfidence(known == 0 ? 0 : <f64>known / <f64>max(1, n));
  return STATUS_OK;
}
