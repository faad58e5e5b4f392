/**
 * Timing's scoring module (agent scoring ABI 1): prefer short ads when the break is intrusive.
 *   context: [intrusiveness, maxDurationMs (> 0), informed (1 when the request or a tracked session says where
 *            playback is)]
 *   features per candidate: [creative durationMs]
 *   scores: max(0, 1 - intrusiveness * min(1, durationMs / maxDurationMs)); confidence 0.8 informed, else 0.3
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

export const CONTEXT: i32 = 3;
export const FEATURES: i32 = 1;

export function configure(maxCandidates: i32): i32 {
  return configureLayout(maxCandidates, CONTEXT, FEATURES);
}

export function score(n: i32): i32 {
  if (capacity() == 0) return STATUS_NOT_CONFIGURED;
  if (n < 0 || n > capacity()) return STATUS_BAD_INPUT;
  const intrusiveness = contextValue(0);
  const maxMs = contextValue(1);
  setConfidence(contextValue(2) != 0 ? 0.8 : 0.3);
  for (let c = 0; c < n; c++) {
    const share = Math.min(1, feature(FEATURES, CONTEXT, c, 0) / maxMs);
    setScore(c, Math.max(0, 1 - intrusiveness * share));
  }
  return STATUS_OK;
}
