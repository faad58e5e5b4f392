/**
 * Intent's scoring module (agent scoring ABI 1): affinity of each candidate with the intent vector.
 *   context: [personalised (1: consent and a profile), profile events, intent[32]]
 *   features per candidate: the candidate's embedding (32 dimensions)
 *   scores: clamp(0.5 + 0.5 * dot(intent, embedding), 0, 1), the dot product skipping the intent's zeros in
 *           increasing dimension order (as the TypeScript vote sums them)
 *   confidence: min(0.9, 0.4 + 0.1 * events) when personalised, else 0.3
 */
import {
  capacity,
  configureLayout,
  contextValue,
  feature,
  STATUS_BAD_INPUT,
  STATUS_NOT_CONFIGURED,
  STATUS_OK,
  setConfidence,
  setScore,
} from "./agent-layout";

export { ABI_VERSION, input, output } from "./agent-layout";

const DIMENSIONS: i32 = 32;
export const CONTEXT: i32 = 2 + DIMENSIONS;
export const FEATURES: i32 = DIMENSIONS;

export function configure(maxCandidates: i32): i32 {
  return configureLayout(maxCandidates, CONTEXT, FEATURES);
}

export function score(n: i32): i32 {
  if (capacity() == 0) return STATUS_NOT_CONFIGURED;
  if (n < 0 || n > capacity()) return STATUS_BAD_INPUT;
  setConfidence(contextValue(0) != 0 ? Math.min(0.9, 0.4 + 0.1 * contextValue(1)) : 0.3);
  for (let c = 0; c < n; c++) {
    let dot: f64 = 0;
    for (let i = 0; i < DIMENSIONS; i++) {
      const w = contextValue(2 + i);
      if (w != 0) dot += w * feature(FEATURES, CONTEXT, c, i);
    }
    setScore(c, Math.min(1, Math.max(0, 0.5 + 0.5 * dot)));
  }
  return STATUS_OK;
}
