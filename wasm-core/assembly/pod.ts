// The pod: eligible candidates, their global order (top-K selection with a lazy heap fallback) and the walk
// that fills the break under its duration and separation rules, with second or first prices.

import { MAX_ADS, TOP_CAPACITY, oAdvertiser, oBid, oCategory, oDuration, oOrder, oOutHeader, oOutIndex, oOutPrice, oOutQuality, oOutRank, oOutRelevance, oPResponse, oQuality, oRank, oRelevance, oTop, oValue, oVeto } from "./layout";

/** Duration of the shortest eligible candidate: once the break has less left, the walk can stop. */
let shortestEligibleMs: i32 = 0;

/**
 * Writes eligible candidate indices, ascending, into the order region; records eligible and vetoed counts
 * in the header. Tests are written as positive comparisons so that NaN anywhere makes a candidate ineligible.
 * Compaction is branchless (write every index, advance by its eligibility bit): with real traffic the pattern
 * changes every request, and mispredicted branches here cost as much as the whole dot-product pass.
 */
export function collectEligible(candidates: i32, reservePrice: f32, maxDurationMs: i32): i32 {
  shortestEligibleMs = i32.MAX_VALUE;
  let eligible = 0;
  let vetoed = 0;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    const reserve = f32x4.splat(reservePrice);
    const maxDuration = i32x4.splat(maxDurationMs);
    let shortest = i32x4.splat(i32.MAX_VALUE);
    for (; c + 3 < candidates; c += 4) {
      const at = <usize>c << 2;
      const veto = i32x4.ne(v128.load(oVeto + at), i32x4.splat(0));
      vetoed += popcnt<i32>(i32x4.bitmask(veto));
      let ok = v128.andnot(f32x4.gt(v128.load(oQuality + at), zero), veto);
      ok = v128.and(ok, f32x4.ge(v128.load(oValue + at), reserve));
      ok = v128.and(ok, f32x4.gt(v128.load(oRank + at), zero));
      const duration = v128.load(oDuration + at);
      ok = v128.and(ok, i32x4.le_s(duration, maxDuration));
      shortest = i32x4.min_s(shortest, v128.bitselect(duration, i32x4.splat(i32.MAX_VALUE), ok));
      const lanes = i32x4.bitmask(ok);
      store<i32>(oOrder + (<usize>eligible << 2), c);
      eligible += lanes & 1;
      store<i32>(oOrder + (<usize>eligible << 2), c + 1);
      eligible += (lanes >> 1) & 1;
      store<i32>(oOrder + (<usize>eligible << 2), c + 2);
      eligible += (lanes >> 2) & 1;
      store<i32>(oOrder + (<usize>eligible << 2), c + 3);
      eligible += lanes >> 3;
    }
    shortestEligibleMs = min(
      min(i32x4.extract_lane(shortest, 0), i32x4.extract_lane(shortest, 1)),
      min(i32x4.extract_lane(shortest, 2), i32x4.extract_lane(shortest, 3)),
    );
  }
  for (; c < candidates; c++) {
    const at = <usize>c << 2;
    const notVetoed = load<u32>(oVeto + at) == 0;
    vetoed += <i32>!notVetoed;
    const ok =
      notVetoed &
      (load<f32>(oQuality + at) > 0) &
      (load<f32>(oValue + at) >= reservePrice) &
      (load<f32>(oRank + at) > 0) &
      (load<i32>(oDuration + at) <= maxDurationMs);
    store<i32>(oOrder + (<usize>eligible << 2), c);
    eligible += <i32>ok;
    if (ok) shortestEligibleMs = min(shortestEligibleMs, load<i32>(oDuration + at));
  }
  store<i32>(oOutHeader, eligible, 4);
  store<i32>(oOutHeader, vetoed, 8);
  return eligible;
}

// @ts-ignore: decorator
@inline
function rankOf(c: i32): f32 {
  return load<f32>(oRank + (<usize>c << 2));
}

/** The global order: rank descending, ties by lower candidate index. A strict total order. */
// @ts-ignore: decorator
@inline
function before(x: i32, y: i32): bool {
  const rx = rankOf(x);
  const ry = rankOf(y);
  return rx > ry || (rx == ry && x < y);
}

// @ts-ignore: decorator
@inline
function get(base: usize, i: i32): i32 {
  return load<i32>(base + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline
function set(base: usize, i: i32, c: i32): void {
  store<i32>(base + (<usize>i << 2), c);
}

/** Heap at `base` whose root comes first (bestFirst) or last in the global order. */
function siftDown(base: usize, start: i32, size: i32, bestFirst: bool): void {
  let i = start;
  const item = get(base, i);
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    let pick = get(base, child);
    if (child + 1 < size) {
      const right = get(base, child + 1);
      if (bestFirst ? before(right, pick) : before(pick, right)) {
        child++;
        pick = right;
      }
    }
    if (bestFirst ? !before(pick, item) : !before(item, pick)) break;
    set(base, i, pick);
    i = child;
  }
  set(base, i, item);
}

/** The best m eligible candidates, sorted in the global order, into the top region (eligible list untouched). */
function selectTop(eligible: i32, m: i32): void {
  // A heap of the m best so far with the worst at the root: most candidates lose to the root at once.
  for (let i = 0; i < m; i++) set(oTop, i, get(oOrder, i));
  for (let i = (m >> 1) - 1; i >= 0; i--) siftDown(oTop, i, m, false);
  // Candidates arrive in ascending index, so one with the root's rank has a higher index and loses the tie:
  // beating the root is just a higher rank.
  let worstRank = rankOf(get(oTop, 0));
  for (let i = m; i < eligible; i++) {
    const c = get(oOrder, i);
    if (rankOf(c) > worstRank) {
      set(oTop, 0, c);
      siftDown(oTop, 0, m, false);
      worstRank = rankOf(get(oTop, 0));
    }
  }
  // Heapsort: moving the worst to the end each time leaves the best first.
  for (let end = m - 1; end > 0; end--) {
    const worst = get(oTop, 0);
    set(oTop, 0, get(oTop, end));
    set(oTop, end, worst);
    siftDown(oTop, 0, end, false);
  }
}

/** Cursor over the global order: the sorted top first, then (only if needed) pops of a heap over all. */
let cursorPosition: i32 = 0;
let cursorTop: i32 = 0;
let cursorEligible: i32 = 0;
let cursorHeapSize: i32 = -1;

function nextInOrder(): i32 {
  const position = cursorPosition;
  if (position >= cursorEligible) return -1;
  cursorPosition = position + 1;
  if (position < cursorTop) return get(oTop, position);
  if (cursorHeapSize < 0) {
    // Rare: the walk went past the selected top. Order everything; skip what the top already gave.
    cursorHeapSize = cursorEligible;
    for (let i = (cursorHeapSize >> 1) - 1; i >= 0; i--) siftDown(oOrder, i, cursorHeapSize, true);
    for (let i = 0; i < cursorTop; i++) popHeap();
  }
  return popHeap();
}

function popHeap(): i32 {
  const best = get(oOrder, 0);
  cursorHeapSize--;
  if (cursorHeapSize > 0) {
    set(oOrder, 0, get(oOrder, cursorHeapSize));
    siftDown(oOrder, 0, cursorHeapSize, true);
  }
  return best;
}

/**
 * Walks the global order and takes candidates that fit the remaining duration and share neither advertiser
 * nor category with the pod. Prices use the next candidate in the global order, taken or not.
 */
export function assemblePod(eligible: i32, maxAds: i32, maxDurationMs: i32, reservePrice: f32, firstPrice: bool): i32 {
  if (maxAds == 0 || eligible == 0) return 0;
  const m = min(eligible, 2 * maxAds + 8);
  selectTop(eligible, m);
  cursorPosition = 0;
  cursorTop = m;
  cursorEligible = eligible;
  cursorHeapSize = -1;

  let count = 0;
  let used: i32 = 0;
  let c = nextInOrder();
  while (c >= 0 && count < maxAds) {
    const next = nextInOrder();
    const at = <usize>c << 2;
    const duration = load<i32>(oDuration + at);
    let fits = duration <= maxDurationMs - used;
    if (fits) {
      const advertiser = load<i32>(oAdvertiser + at);
      const category = load<i32>(oCategory + at);
      for (let t = 0; t < count; t++) {
        const other = <usize>get(oOutIndex, t) << 2;
        if (load<i32>(oAdvertiser + other) == advertiser || load<i32>(oCategory + other) == category) {
          fits = false;
          break;
        }
      }
    }
    if (fits) {
      const quality = load<f32>(oQuality + at);
      const value = load<f32>(oValue + at);
      let price: f32;
      if (firstPrice) {
        price = value;
      } else if (next < 0) {
        price = reservePrice;
      } else {
        price = rankOf(next) / quality;
        if (price < reservePrice) price = reservePrice;
        if (price > value) price = value;
      }
      const out = <usize>count << 2;
      store<i32>(oOutIndex + out, c);
      store<f32>(oOutPrice + out, price);
      store<f32>(oOutRank + out, load<f32>(oRank + at));
      store<f32>(oOutQuality + out, quality);
      store<f32>(oOutRelevance + out, load<f32>(oRelevance + at));
      used += duration;
      count++;
      // Nothing left fits: stop instead of walking (and heap-sorting) every remaining candidate.
      if (maxDurationMs - used < shortestEligibleMs) break;
    }
    c = next;
  }
  return count;
}
