/**
 * Relevance's scoring module (agent scoring ABI 1): predicted response and shortlist scores.
 *   context: [examples learned]
 *   features per candidate: [logit (sum of the model's weights over the candidate's features), prior logit of
 *            its goal, goal (0..15), impressions (1: an impression goal, predicted response 1)]
 *   extra: predicted response p = sigmoid(logit + prior) (1 for impression goals)
 *   scores: p / (best p of the same goal), kept for the top SHORTLIST_K candidates, 0 for the others
 *   confidence: min(0.9, 0.3 + examples / 2000)
 */
import {
  capacity,
  configureLayout,
  contextValue,
  feature,
  getExtra,
  getScore,
  STATUS_BAD_INPUT,
  STATUS_NOT_CONFIGURED,
  STATUS_OK,
  scratch,
  setConfidence,
  setExtra,
  setScore,
} from "./agent-layout";

export { ABI_VERSION, input, output } from "./agent-layout";

export const CONTEXT: i32 = 1;
export const FEATURES: i32 = 4;

const SHORTLIST_K: i32 = 32;
const GOALS: i32 = 16;

export function configure(maxCandidates: i32): i32 {
  return configureLayout(maxCandidates, CONTEXT, FEATURES);
}

function sigmoid(x: f64): f64 {
  return 1 / (1 + Math.exp(-Math.max(-35, Math.min(35, x))));
}

export function score(n: i32): i32 {
  if (capacity() == 0) return STATUS_NOT_CONFIGURED;
  if (n < 0 || n > capacity()) return STATUS_BAD_INPUT;
  // scratch: best p per goal [0, GOALS), then the relative scores for the quickselect.
  const best = scratch();
  const relative = best + (<usize>GOALS << 3);
  for (let g = 0; g < GOALS; g++) store<f64>(best + (<usize>g << 3), 0);
  for (let c = 0; c < n; c++) {
    const goalValue = feature(FEATURES, CONTEXT, c, 2);
    if (!(goalValue >= 0 && goalValue < <f64>GOALS)) return STATUS_BAD_INPUT;
    const goal = <i32>goalValue;
    let p: f64 = 1;
    if (feature(FEATURES, CONTEXT, c, 3) == 0) p = sigmoid(feature(FEATURES, CONTEXT, c, 0) + feature(FEATURES, CONTEXT, c, 1));
    setExtra(c, p);
    const at = best + (<usize>goal << 3);
    store<f64>(at, Math.max(load<f64>(at), p));
  }
  for (let c = 0; c < n; c++) {
    const b = load<f64>(best + (<usize>(<i32>feature(FEATURES, CONTEXT, c, 2)) << 3));
    // `b || 1` of the reference: 0 and NaN divide by 1.
    const r = getExtra(c) / (b != 0 && b == b ? b : 1);
    setScore(c, r);
    store<f64>(relative + (<usize>c << 3), r);
  }
  const cutoff = n >= SHORTLIST_K ? kthLargest(relative, n, SHORTLIST_K) : 0;
  for (let c = 0; c < n; c++) if (!(getScore(c) >= cutoff)) setScore(c, 0);
  setConfidence(Math.min(0.9, 0.3 + contextValue(0) / 2000));
  return STATUS_OK;
}

/** The k-th largest of a[0..n) (reordered): quickselect with a Hoare partition, as the TypeScript reference. */
function kthLargest(a: usize, n: i32, k: i32): f64 {
  const target = k - 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = load<f64>(a + (<usize>((lo + hi) >>> 1) << 3));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (load<f64>(a + (<usize>i << 3)) > pivot) i++;
      while (load<f64>(a + (<usize>j << 3)) < pivot) j--;
      if (i <= j) {
        const t = load<f64>(a + (<usize>i << 3));
        store<f64>(a + (<usize>i << 3), load<f64>(a + (<usize>j << 3)));
        store<f64>(a + (<usize>j << 3), t);
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return load<f64>(a + (<usize>target << 3));
  }
  return load<f64>(a + (<usize>target << 3));
}
