// Kernel memory layout (ABI 1): the regions `configure` lays out once, their offsets, and the limits and
// statuses of the ABI. Only `configure` writes the offsets; scoring.ts and pod.ts read them.

export const MAX_ADS: i32 = 16;


// Statuses returned by configure/decide (negative = refused; decide returns the pod size otherwise).
export const STATUS_BAD_CAPACITY: i32 = -1;
export const STATUS_OUT_OF_MEMORY: i32 = -2;
export const STATUS_NOT_CONFIGURED: i32 = -3;
export const STATUS_BAD_ARGUMENTS: i32 = -4;

// Region ids, in layout order. Keep in sync with `Region` in src/kernel-abi.ts (the loader checks sizes).
export const R_EMBEDDINGS: i32 = 0;
export const R_DURATION: i32 = 1;
export const R_ADVERTISER: i32 = 2;
export const R_CATEGORY: i32 = 3;
export const R_INTENT: i32 = 4;
export const R_WEIGHTS: i32 = 5;
export const R_CONFIDENCE: i32 = 6;
export const R_SCORES: i32 = 7;
export const R_VETO: i32 = 8;
export const R_BID: i32 = 9;
export const R_P_RESPONSE: i32 = 10;
export const R_RELEVANCE: i32 = 11;
export const R_QUALITY: i32 = 12;
export const R_VALUE: i32 = 13;
export const R_RANK: i32 = 14;
export const R_ORDER: i32 = 15;
export const R_TOP: i32 = 16;
export const R_OUT_HEADER: i32 = 17;
export const R_OUT_INDEX: i32 = 18;
export const R_OUT_PRICE: i32 = 19;
export const R_OUT_RANK: i32 = 20;
export const R_OUT_QUALITY: i32 = 21;
export const R_OUT_RELEVANCE: i32 = 22;
export const R_OUT_CONTRIBUTION: i32 = 23;
export const REGION_COUNT: i32 = 24;

// The walk usually ends within the first few candidates of the global order, so decide() selects only the
// best 2K + 8 (at most TOP_CAPACITY) and sorts those; a walk that goes past them falls back to a lazy heap
// over every eligible candidate. Either way the candidates come out in exactly the global order.
export const TOP_CAPACITY: i32 = 2 * 16 + 8;

// Hard limits keep every size computation far from u32 overflow.
export const LIMIT_CANDIDATES: i32 = 1 << 20;
export const LIMIT_DIMENSIONS: i32 = 4096;
export const LIMIT_AGENTS: i32 = 256;
export const LIMIT_BYTES: u64 = 0x7fff0000;

export let configured = false;
export let capCandidates: i32 = 0; // rounded up to a multiple of 4
export let capDimensions: i32 = 0; // rounded up to a multiple of 4
export let capAgents: i32 = 0;

export let oEmbeddings: usize = 0;
export let oDuration: usize = 0;
export let oAdvertiser: usize = 0;
export let oCategory: usize = 0;
export let oIntent: usize = 0;
export let oWeights: usize = 0;
export let oConfidence: usize = 0;
export let oScores: usize = 0;
export let oVeto: usize = 0;
export let oBid: usize = 0;
export let oPResponse: usize = 0;
export let oRelevance: usize = 0;
export let oQuality: usize = 0;
export let oValue: usize = 0;
export let oRank: usize = 0;
export let oOrder: usize = 0;
export let oTop: usize = 0;
export let oOutHeader: usize = 0;
export let oOutIndex: usize = 0;
export let oOutPrice: usize = 0;
export let oOutRank: usize = 0;
export let oOutQuality: usize = 0;
export let oOutRelevance: usize = 0;
export let oOutContribution: usize = 0;
export let oEnd: usize = 0;

// @ts-ignore: decorator
@inline
export function roundUp4(x: i32): i32 {
  return (x + 3) & ~3;
}

// @ts-ignore: decorator
@inline
export function align16(x: u64): u64 {
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
