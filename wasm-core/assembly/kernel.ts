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
// agents in index order. The f32x4 code (scoring.ts) is exactly that order, four lanes at a time.
//
// One file per job: layout.ts (regions, offsets, configure), scoring.ts (relevance, quality, rank,
// contributions), pod.ts (eligibility, global order, the pod walk and prices); this entry holds the exports.

import {
  capAgents,
  capCandidates,
  capDimensions,
  configured,
  MAX_ADS,
  oOutHeader,
  roundUp4,
  STATUS_BAD_ARGUMENTS,
  STATUS_NOT_CONFIGURED,
} from "./layout";
import { computeQualityAndRank, computeRelevance, writeContributions } from "./scoring";
import { assemblePod, collectEligible } from "./pod";
export { MAX_ADS, configure, regionOffset } from "./layout";

export const ABI_VERSION: i32 = 1;
export const KERNEL_SIMD: i32 = ASC_FEATURE_SIMD ? 1 : 0;

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
