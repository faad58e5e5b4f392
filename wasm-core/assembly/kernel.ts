// Chorus scoring + voting kernel (ABI 1). One `decide` call decides one request.
//
// Rust-style on purpose: every buffer lives at a fixed offset of linear memory that `configure` lays out
// once (growing memory at most then); `decide` only reads and writes those regions. No allocation, no GC,
// no strings, no imports. The host writes inputs into the regions and reads outputs through typed views;
// the layout contract is documented in wasm-core/README.md and mirrored by src/kernel-abi.ts.
//
// Float semantics are pinned so the SIMD build, the scalar build and the TypeScript reference agree bit
// for bit: every operation is an f32 operation (no fused multiply-add), a dot product keeps four partial
// sums (element j goes to sum j % 4, in increasing j) combined as (s0 + s1) + (s2 + s3), and the vote adds
// agents in index order. The f32x4 code below is exactly that order, four lanes at a time.

export const ABI_VERSION: i32 = 1;
export const KERNEL_SIMD: i32 = ASC_FEATURE_SIMD ? 1 : 0;
export const MAX_ADS: i32 = 16;

// Statuses returned by configure/decide (negative = refused; decide returns the pod size otherwise).
const STATUS_BAD_CAPACITY: i32 = -1;
const STATUS_OUT_OF_MEMORY: i32 = -2;
const STATUS_NOT_CONFIGURED: i32 = -3;
const STATUS_BAD_ARGUMENTS: i32 = -4;

// Region ids, in layout order. Keep in sync with `Region` in src/kernel-abi.ts (the loader checks sizes).
const R_EMBEDDINGS: i32 = 0;
const R_DURATION: i32 = 1;
const R_ADVERTISER: i32 = 2;
const R_CATEGORY: i32 = 3;
const R_INTENT: i32 = 4;
const R_WEIGHTS: i32 = 5;
const R_CONFIDENCE: i32 = 6;
const R_SCORES: i32 = 7;
const R_VETO: i32 = 8;
const R_BID: i32 = 9;
const R_P_RESPONSE: i32 = 10;
const R_RELEVANCE: i32 = 11;
const R_QUALITY: i32 = 12;
const R_VALUE: i32 = 13;
const R_RANK: i32 = 14;
const R_ORDER: i32 = 15;
const R_TOP: i32 = 16;
const R_OUT_HEADER: i32 = 17;
const R_OUT_INDEX: i32 = 18;
const R_OUT_PRICE: i32 = 19;
const R_OUT_RANK: i32 = 20;
const R_OUT_QUALITY: i32 = 21;
const R_OUT_RELEVANCE: i32 = 22;
const R_OUT_CONTRIBUTION: i32 = 23;
const REGION_COUNT: i32 = 24;

// The walk usually ends within the first few candidates of the global order, so decide() selects only the
// best 2K + 8 (at most TOP_CAPACITY) and sorts those; a walk that goes past them falls back to a lazy heap
// over every eligible candidate. Either way the candidates come out in exactly the global order.
const TOP_CAPACITY: i32 = 2 * 16 + 8;

// Hard limits keep every size computation far from u32 overflow.
const LIMIT_CANDIDATES: i32 = 1 << 20;
const LIMIT_DIMENSIONS: i32 = 4096;
const LIMIT_AGENTS: i32 = 256;
const LIMIT_BYTES: u64 = 0x7fff0000;

let configured = false;
let capCandidates: i32 = 0; // rounded up to a multiple of 4
let capDimensions: i32 = 0; // rounded up to a multiple of 4
let capAgents: i32 = 0;

let oEmbeddings: usize = 0;
let oDuration: usize = 0;
let oAdvertiser: usize = 0;
let oCategory: usize = 0;
let oIntent: usize = 0;
let oWeights: usize = 0;
let oConfidence: usize = 0;
let oScores: usize = 0;
let oVeto: usize = 0;
let oBid: usize = 0;
let oPResponse: usize = 0;
let oRelevance: usize = 0;
let oQuality: usize = 0;
let oValue: usize = 0;
let oRank: usize = 0;
let oOrder: usize = 0;
let oTop: usize = 0;
let oOutHeader: usize = 0;
let oOutIndex: usize = 0;
let oOutPrice: usize = 0;
let oOutRank: usize = 0;
let oOutQuality: usize = 0;
let oOutRelevance: usize = 0;
let oOutContribution: usize = 0;
let oEnd: usize = 0;

// @ts-ignore: decorator
@inline
function roundUp4(x: i32): i32 {
  return (x + 3) & ~3;
}

// @ts-ignore: decorator
@inline
function align16(x: u64): u64 {
  return (x + 15) & ~(<u64>15);
}

/**
 * Lays out every region for up to maxCandidates x maxDimensions x maxAgents and grows memory once if needed.
 * Calling it again with a larger capacity moves regions: the host must then rewrite the inventory.
 */
export function configure(maxCandidates: i32, maxDimensions: i32, maxAgents: i32): i32 {
  if (maxCandidates < 1 || maxCandidates > LIMIT_CANDIDATES) return STATUS_BAD_CAPACITY;
  if (maxDimensions < 1 || maxDimensions > LIMIT_DIMENSIONS) return STATUS_BAD_CAPACITY;
  if (maxAgents < 0 || maxAgents > LIMIT_AGENTS) return STATUS_BAD_CAPACITY;
  const n = <u64>roundUp4(maxCandidates);
  const d = <u64>roundUp4(maxDimensions);
  const a = <u64>maxAgents;
  const lane: u64 = 4;
  const ads = <u64>MAX_ADS;

  let at = align16(<u64>__heap_base);
  const embeddings = at; at = align16(at + n * d * lane);
  const duration = at; at = align16(at + n * lane);
  const advertiser = at; at = align16(at + n * lane);
  const category = at; at = align16(at + n * lane);
  const intent = at; at = align16(at + d * lane);
  const weights = at; at = align16(at + a * lane);
  const confidence = at; at = align16(at + a * lane);
  const scores = at; at = align16(at + a * n * lane);
  const veto = at; at = align16(at + n * lane);
  const bid = at; at = align16(at + n * lane);
  const pResponse = at; at = align16(at + n * lane);
  const relevance = at; at = align16(at + n * lane);
  const quality = at; at = align16(at + n * lane);
  const value = at; at = align16(at + n * lane);
  const rank = at; at = align16(at + n * lane);
  const order = at; at = align16(at + n * lane);
  const top = at; at = align16(at + <u64>TOP_CAPACITY * lane);
  const outHeader = at; at = align16(at + 4 * lane);
  const outIndex = at; at = align16(at + ads * lane);
  const outPrice = at; at = align16(at + ads * lane);
  const outRank = at; at = align16(at + ads * lane);
  const outQuality = at; at = align16(at + ads * lane);
  const outRelevance = at; at = align16(at + ads * lane);
  const outContribution = at; at = align16(at + ads * (a + 1) * lane);
  if (at > LIMIT_BYTES) return STATUS_BAD_CAPACITY;

  const needPages = <i32>((at + 0xffff) >> 16);
  const havePages = memory.size();
  if (needPages > havePages && memory.grow(needPages - havePages) < 0) return STATUS_OUT_OF_MEMORY;

  capCandidates = <i32>n;
  capDimensions = <i32>d;
  capAgents = maxAgents;
  oEmbeddings = <usize>embeddings;
  oDuration = <usize>duration;
  oAdvertiser = <usize>advertiser;
  oCategory = <usize>category;
  oIntent = <usize>intent;
  oWeights = <usize>weights;
  oConfidence = <usize>confidence;
  oScores = <usize>scores;
  oVeto = <usize>veto;
  oBid = <usize>bid;
  oPResponse = <usize>pResponse;
  oRelevance = <usize>relevance;
  oQuality = <usize>quality;
  oValue = <usize>value;
  oRank = <usize>rank;
  oOrder = <usize>order;
  oTop = <usize>top;
  oOutHeader = <usize>outHeader;
  oOutIndex = <usize>outIndex;
  oOutPrice = <usize>outPrice;
  oOutRank = <usize>outRank;
  oOutQuality = <usize>outQuality;
  oOutRelevance = <usize>outRelevance;
  oOutContribution = <usize>outContribution;
  oEnd = <usize>at;
  configured = true;
  return 0;
}

/** Byte offset of a region (REGION_COUNT = end of the layout), or -1 before configure / for an unknown id. */
export function regionOffset(region: i32): i32 {
  if (!configured) return -1;
  switch (region) {
    case R_EMBEDDINGS: return <i32>oEmbeddings;
    case R_DURATION: return <i32>oDuration;
    case R_ADVERTISER: return <i32>oAdvertiser;
    case R_CATEGORY: return <i32>oCategory;
    case R_INTENT: return <i32>oIntent;
    case R_WEIGHTS: return <i32>oWeights;
    case R_CONFIDENCE: return <i32>oConfidence;
    case R_SCORES: return <i32>oScores;
    case R_VETO: return <i32>oVeto;
    case R_BID: return <i32>oBid;
    case R_P_RESPONSE: return <i32>oPResponse;
    case R_RELEVANCE: return <i32>oRelevance;
    case R_QUALITY: return <i32>oQuality;
    case R_VALUE: return <i32>oValue;
    case R_RANK: return <i32>oRank;
    case R_ORDER: return <i32>oOrder;
    case R_TOP: return <i32>oTop;
    case R_OUT_HEADER: return <i32>oOutHeader;
    case R_OUT_INDEX: return <i32>oOutIndex;
    case R_OUT_PRICE: return <i32>oOutPrice;
    case R_OUT_RANK: return <i32>oOutRank;
    case R_OUT_QUALITY: return <i32>oOutQuality;
    case R_OUT_RELEVANCE: return <i32>oOutRelevance;
    case R_OUT_CONTRIBUTION: return <i32>oOutContribution;
    case REGION_COUNT: return <i32>oEnd;
    default: return -1;
  }
}

/**
 * Decides one request over the resident inventory. Embedding rows have stride roundUp4(dimensions) and score
 * rows stride roundUp4(candidates), padding zeroed by the host. Returns the pod size, or a negative status.
 */
export function decide(
  candidates: i32,
  dimensions: i32,
  agents: i32,
  relevanceWeight: f32,
  reservePrice: f32,
  auctionType: i32,
  maxAds: i32,
  maxDurationMs: i32,
): i32 {
  if (!configured) return STATUS_NOT_CONFIGURED;
  if (candidates < 0 || roundUp4(candidates) > capCandidates) return STATUS_BAD_ARGUMENTS;
  if (dimensions < 0 || roundUp4(dimensions) > capDimensions) return STATUS_BAD_ARGUMENTS;
  if (agents < 0 || agents > capAgents) return STATUS_BAD_ARGUMENTS;
  if (auctionType < 0 || auctionType > 1 || maxAds < 0 || maxAds > MAX_ADS) return STATUS_BAD_ARGUMENTS;

  const dStride = roundUp4(dimensions);
  const nStride = roundUp4(candidates);
  computeRelevance(candidates, dStride);
  computeQualityAndRank(nStride, agents, relevanceWeight);
  const eligible = collectEligible(candidates, reservePrice, maxDurationMs);
  const count = assemblePod(eligible, maxAds, maxDurationMs, reservePrice, auctionType == 1);
  writeContributions(count, agents, nStride, relevanceWeight);
  store<i32>(oOutHeader, count);
  return count;
}

/** rel_c = dot(intent, emb_c) with the pinned 4-partial-sum order. */
function computeRelevance(candidates: i32, dStride: i32): void {
  const rowBytes = <usize>dStride << 2;
  let c = 0;
  let row = oEmbeddings;
  if (ASC_FEATURE_SIMD) {
    // One candidate's sum is a chain of dependent adds (the order is pinned); four candidates per pass give
    // the CPU four independent chains and share each intent load.
    for (; c + 3 < candidates; c += 4) {
      const row1 = row + rowBytes;
      const row2 = row1 + rowBytes;
      const row3 = row2 + rowBytes;
      let acc0 = f32x4.splat(0);
      let acc1 = f32x4.splat(0);
      let acc2 = f32x4.splat(0);
      let acc3 = f32x4.splat(0);
      for (let j: usize = 0; j < rowBytes; j += 16) {
        const x = v128.load(oIntent + j);
        acc0 = f32x4.add(acc0, f32x4.mul(x, v128.load(row + j)));
        acc1 = f32x4.add(acc1, f32x4.mul(x, v128.load(row1 + j)));
        acc2 = f32x4.add(acc2, f32x4.mul(x, v128.load(row2 + j)));
        acc3 = f32x4.add(acc3, f32x4.mul(x, v128.load(row3 + j)));
      }
      const out = oRelevance + (<usize>c << 2);
      store<f32>(out, horizontalSum(acc0));
      store<f32>(out, horizontalSum(acc1), 4);
      store<f32>(out, horizontalSum(acc2), 8);
      store<f32>(out, horizontalSum(acc3), 12);
      row = row3 + rowBytes;
    }
    for (; c < candidates; c++) {
      let acc = f32x4.splat(0);
      for (let j: usize = 0; j < rowBytes; j += 16) {
        acc = f32x4.add(acc, f32x4.mul(v128.load(oIntent + j), v128.load(row + j)));
      }
      store<f32>(oRelevance + (<usize>c << 2), horizontalSum(acc));
      row += rowBytes;
    }
  } else {
    for (; c < candidates; c++) {
      let s0: f32 = 0;
      let s1: f32 = 0;
      let s2: f32 = 0;
      let s3: f32 = 0;
      for (let j: usize = 0; j < rowBytes; j += 16) {
        const x = oIntent + j;
        const y = row + j;
        s0 += load<f32>(x) * load<f32>(y);
        s1 += load<f32>(x, 4) * load<f32>(y, 4);
        s2 += load<f32>(x, 8) * load<f32>(y, 8);
        s3 += load<f32>(x, 12) * load<f32>(y, 12);
      }
      store<f32>(oRelevance + (<usize>c << 2), (s0 + s1) + (s2 + s3));
      row += rowBytes;
    }
  }
}

// @ts-ignore: decorator
@inline
function horizontalSum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * quality_c = relevanceWeight * rel_c + sum_a (weight_a * confidence_a) * score_{a,c}, agents in order;
 * value_c = bid_c * pResponse_c; rank_c = value_c * quality_c. Runs over the padded row (lanes past the last
 * candidate compute garbage that nothing reads).
 */
function computeQualityAndRank(nStride: i32, agents: i32, relevanceWeight: f32): void {
  // Agent-major passes: each candidate still adds its terms in agent order (the pinned order), while the
  // adds of different candidates are independent, so the CPU streams them instead of waiting on one chain.
  const rowBytes = <usize>nStride << 2;
  if (ASC_FEATURE_SIMD) {
    const rw = f32x4.splat(relevanceWeight);
    for (let i: usize = 0; i < rowBytes; i += 16) v128.store(oQuality + i, f32x4.mul(rw, v128.load(oRelevance + i)));
    let score = oScores;
    for (let a = 0; a < agents; a++) {
      const coef = f32x4.splat(load<f32>(oWeights + (<usize>a << 2)) * load<f32>(oConfidence + (<usize>a << 2)));
      for (let i: usize = 0; i < rowBytes; i += 16) {
        v128.store(oQuality + i, f32x4.add(v128.load(oQuality + i), f32x4.mul(coef, v128.load(score + i))));
      }
      score += rowBytes;
    }
    for (let i: usize = 0; i < rowBytes; i += 16) {
      const value = f32x4.mul(v128.load(oBid + i), v128.load(oPResponse + i));
      v128.store(oValue + i, value);
      v128.store(oRank + i, f32x4.mul(value, v128.load(oQuality + i)));
    }
  } else {
    for (let i: usize = 0; i < rowBytes; i += 4) store<f32>(oQuality + i, relevanceWeight * load<f32>(oRelevance + i));
    let score = oScores;
    for (let a = 0; a < agents; a++) {
      const coef = load<f32>(oWeights + (<usize>a << 2)) * load<f32>(oConfidence + (<usize>a << 2));
      for (let i: usize = 0; i < rowBytes; i += 4) {
        store<f32>(oQuality + i, load<f32>(oQuality + i) + coef * load<f32>(score + i));
      }
      score += rowBytes;
    }
    for (let i: usize = 0; i < rowBytes; i += 4) {
      const value = load<f32>(oBid + i) * load<f32>(oPResponse + i);
      store<f32>(oValue + i, value);
      store<f32>(oRank + i, value * load<f32>(oQuality + i));
    }
  }
}

/** Duration of the shortest eligible candidate: once the break has less left, the walk can stop. */
let shortestEligibleMs: i32 = 0;

/**
 * Writes eligible candidate indices, ascending, into the order region; records eligible and vetoed counts
 * in the header. Tests are written as positive comparisons so that NaN anywhere makes a candidate ineligible.
 * Compaction is branchless (write every index, advance by its eligibility bit): with real traffic the pattern
 * changes every request, and mispredicted branches here cost as much as the whole dot-product pass.
 */
function collectEligible(candidates: i32, reservePrice: f32, maxDurationMs: i32): i32 {
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
function assemblePod(eligible: i32, maxAds: i32, maxDurationMs: i32, reservePrice: f32, firstPrice: bool): i32 {
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

/** Row t: relevanceWeight * rel, then (weight_a * confidence_a) * score_{a,c} per agent — the terms of quality. */
function writeContributions(count: i32, agents: i32, nStride: i32, relevanceWeight: f32): void {
  let out = oOutContribution;
  for (let t = 0; t < count; t++) {
    const c = <usize>load<i32>(oOutIndex + (<usize>t << 2));
    store<f32>(out, relevanceWeight * load<f32>(oRelevance + (c << 2)));
    out += 4;
    for (let a = 0; a < agents; a++) {
      const coef = load<f32>(oWeights + (<usize>a << 2)) * load<f32>(oConfidence + (<usize>a << 2));
      store<f32>(out, coef * load<f32>(oScores + ((<usize>a * <usize>nStride + c) << 2)));
      out += 4;
    }
  }
}
