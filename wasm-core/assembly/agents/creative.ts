/**
 * Creative's scoring module (agent scoring ABI 1): how much each candidate's format is worth when it can play.
 * The policy checks (vetoes with reasons) stay in TypeScript.
 *   context: none
 *   features per candidate: [rejected (1: a policy vetoes it), format (AdFormat 0..4)]
 *   scores: 0 when rejected, else the format preference (richer formats first); confidence 0.7
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

/** By AdFormat: unspecified, audio, video, display, interactive. */
function preference(format: i32): f64 {
  switch (format) {
    case 1:
      return 0.6;
    case 2:
      return 0.9;
    case 3:
      return 0.7;
    case 4:
      return 1;
    default:
      return 0;
  }
}

export function configure(maxCandidates: i32): i32 {
  return configureLayout(maxCandidates, CONTEXT, FEATURES);
}

export function score(n: i32): i32 {
  if (capacity() == 0) return STATUS_NOT_CONFIGURED;
  if (n < 0 || n > capacity()) return STATUS_BAD_INPUT;
  for (let c = 0; c < n; c++) {
    const format = feature(FEATURES, CONTEXT, c, 1);
    if (!(format >= 0 && format <= 4)) return STATUS_BAD_INPUT;
    setScore(c, feature(FEATURES, CONTEXT, c, 0) != 0 ? 0 : preference(<i32>format));
  }
  setConfidence(0.7);
  return STATUS_OK;
}
