import { create } from "@bufbuild/protobuf";
import type { AuctionEntry } from "../../gen/chorus/v1/agent_pb.ts";
import { NoFillReason, type PodAd, PodAdSchema } from "../../gen/chorus/v1/decision_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { KernelResult } from "../../wasm-core/src/kernel-inputs.ts";
import {
  agentCoefficients,
  byRank,
  candidateValue,
  ineligibility,
  rankTerms,
  type TermsInventory,
} from "../../wasm-core/src/kernel-terms.ts";
import type { KernelInputs } from "./build-kernel-request.ts";

/** Losers reported in an AuctionOutcome (bidders learn from the closest competitors). */
const OUTCOME_LOSERS = 50;

export interface Winner {
  index: number;
  priceMicros: bigint;
  /** Row of the kernel's contributions: agents only (the relevance term is separate). */
  contributions: number[];
  relevanceTerm: number;
  quality: number;
  relevance: number;
  rank: number;
}

export function winners(result: KernelResult, agents: number): Winner[] {
  return Array.from({ length: result.count }, (_, t) => {
    const row = result.contributions.subarray(t * (agents + 1), (t + 1) * (agents + 1));
    return {
      index: result.indices[t]!,
      priceMicros: BigInt(Math.round(result.prices[t]!)),
      contributions: [...row.subarray(1)],
      relevanceTerm: row[0]!,
      quality: result.qualities[t]!,
      relevance: result.relevances[t]!,
      rank: result.ranks[t]!,
    };
  });
}

export function podAds(
  inventory: Inventory,
  chosen: readonly Winner[],
  formats: readonly number[],
  offsetMs: number,
): PodAd[] {
  return chosen.map((w, i) => {
    const { creative, campaign } = inventory.candidates[w.index]!;
    return create(PodAdSchema, {
      sequence: i + 1,
      creativeId: creative.id,
      campaignId: campaign.id,
      advertiserId: campaign.advertiserId,
      priceMicros: w.priceMicros,
      format: formats[w.index] || creative.format,
      durationMs: creative.durationMs,
      insertionOffsetMs: offsetMs,
      mediaUrl: creative.mediaUrl,
      clickUrl: creative.clickUrl,
      tracking: creative.tracking,
      iabCategory: creative.iabCategory,
    });
  });
}

const termsInventory = (inventory: Inventory): TermsInventory => ({
  candidates: inventory.size,
  dimensions: inventory.arrays.dim,
  embeddings: inventory.arrays.embeddings,
});

/**
 * Losers by rank, best first: unvetoed candidates with a positive value that the pod does not hold, ranked with
 * the kernel's own arithmetic (wasm-core/src/kernel-terms.ts) and order (rank descending, ties by lower index).
 */
export function rankedLosers(
  inputs: KernelInputs,
  inventory: Inventory,
  chosen: readonly Winner[],
  limit: number,
): { index: number; rank: number }[] {
  const r = inputs.request;
  const terms = termsInventory(inventory);
  const coefficients = agentCoefficients(r);
  const won = new Set(chosen.map((w) => w.index));
  const ranked: { index: number; rank: number }[] = [];
  for (let c = 0; c < inventory.size; c++) {
    if (r.vetoMask[c] !== 0 || won.has(c) || !(candidateValue(r, c) > 0)) continue;
    ranked.push({ index: c, rank: rankTerms(terms, r, c, coefficients).rank });
  }
  const order = byRank(ranked.map((x) => x.rank));
  return ranked
    .map((_, i) => i)
    .sort(order)
    .slice(0, limit)
    .map((i) => ranked[i]!);
}

/**
 * Why a kernel call that chose nothing chose nothing: BELOW_RESERVE when an unvetoed candidate passed the
 * kernel's quality test but not its reserve test (kernel-terms.ts ineligibility, the kernel's own order of tests),
 * otherwise NO_ELIGIBLE_CANDIDATE.
 */
export function emptyPodReason(inputs: KernelInputs, inventory: Inventory): NoFillReason {
  const r = inputs.request;
  const terms = termsInventory(inventory);
  const coefficients = agentCoefficients(r);
  for (let c = 0; c < inventory.size; c++) {
    if (r.vetoMask[c] !== 0) continue;
    const why = ineligibility(rankTerms(terms, r, c, coefficients), r, inventory.arrays.durationMs[c]!);
    if (why === "reserve") return NoFillReason.BELOW_RESERVE;
  }
  return NoFillReason.NO_ELIGIBLE_CANDIDATE;
}

/** The AuctionOutcome entries: winners, then the best losers (plain messages: built once per decision, many). */
export function auctionEntries(inputs: KernelInputs, inventory: Inventory, chosen: readonly Winner[]): AuctionEntry[] {
  const r = inputs.request;
  // What a loser had to pay to win: the cheapest winner's price, and never less than the reserve (with no winner,
  // the reserve is what the competing demand paid: bidders learn the market's floor instead of only "above my bid").
  const cheapest = chosen.reduce((m, w) => (m === 0n || w.priceMicros < m ? w.priceMicros : m), 0n);
  const reserve = BigInt(Math.max(0, Math.ceil(r.reservePrice)));
  const priceToBeat = cheapest > reserve ? cheapest : reserve;
  const entry = (c: number, won?: { priceMicros: bigint; position: number; contributions: number[] }): AuctionEntry => {
    const cand = inventory.candidates[c]!;
    return {
      $typeName: "chorus.v1.AuctionEntry",
      creativeId: cand.creative.id,
      campaignId: cand.campaign.id,
      bidMicros: r.bid[c]!,
      predictedResponse: r.pResponse[c]!,
      won: won !== undefined,
      priceMicros: won?.priceMicros ?? 0n,
      position: won?.position ?? 0,
      contributions: won?.contributions ?? [],
      priceToBeatMicros: priceToBeat,
    };
  };
  return [
    ...chosen.map((w, i) =>
      entry(w.index, { priceMicros: w.priceMicros, position: i + 1, contributions: w.contributions }),
    ),
    ...rankedLosers(inputs, inventory, chosen, OUTCOME_LOSERS).map((l) => entry(l.index)),
  ];
}
