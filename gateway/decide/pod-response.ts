import { create } from "@bufbuild/protobuf";
import type { AuctionEntry } from "../../gen/chorus/v1/agent_pb.ts";
import {
  type CandidateExplanation,
  CandidateExplanationSchema,
  type PodAd,
  PodAdSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { KernelResult } from "../../wasm-core/src/kernel-inputs.ts";
import type { KernelInputs } from "./build-kernel-request.ts";

/** Candidates listed in an explanation besides the winners: the best-ranked losers. */
const EXPLAINED_LOSERS = 10;
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

/** What each candidate scored, recomputed from the kernel inputs with the kernel's formula (for people, not money). */
function candidateTerms(inputs: KernelInputs, inventory: Inventory, c: number) {
  const r = inputs.request;
  const n = inventory.size;
  const relevance = relevanceOf(inputs, inventory, c);
  const contributions = inputs.agents.map((_, a) => r.weights[a]! * r.confidence[a]! * r.scores[a * n + c]!);
  const quality = r.relevanceWeight * relevance + contributions.reduce((s, x) => s + x, 0);
  const value = r.bid[c]! * r.pResponse[c]!;
  return { relevance, contributions, quality, value, rank: value * quality };
}

function relevanceOf(inputs: KernelInputs, inventory: Inventory, c: number): number {
  const intent = inputs.request.intent;
  const { embeddings, dim } = inventory.arrays;
  let relevance = 0;
  for (let j = 0; j < dim; j++) relevance += intent[j]! * embeddings[c * dim + j]!;
  return relevance;
}

/**
 * Losers by rank, best first (non-vetoed with a positive value). Ranks every such candidate with scalar arithmetic
 * (candidateTerms' formula, same order), and builds the full terms only for the `limit` best.
 */
export function rankedLosers(inputs: KernelInputs, inventory: Inventory, chosen: readonly Winner[], limit: number) {
  const r = inputs.request;
  const n = inventory.size;
  const agents = inputs.agents.length;
  const won = new Set(chosen.map((w) => w.index));
  const ranked: { index: number; rank: number }[] = [];
  for (let c = 0; c < n; c++) {
    if (r.vetoMask[c] !== 0 || won.has(c)) continue;
    const value = r.bid[c]! * r.pResponse[c]!;
    if (!(value > 0)) continue;
    let votes = 0;
    for (let a = 0; a < agents; a++) votes += r.weights[a]! * r.confidence[a]! * r.scores[a * n + c]!;
    ranked.push({ index: c, rank: value * (r.relevanceWeight * relevanceOf(inputs, inventory, c) + votes) });
  }
  return ranked
    .sort((a, b) => b.rank - a.rank || a.index - b.index)
    .slice(0, limit)
    .map(({ index }) => ({ index, ...candidateTerms(inputs, inventory, index) }));
}

export function explainCandidates(
  inputs: KernelInputs,
  inventory: Inventory,
  chosen: readonly Winner[],
): CandidateExplanation[] {
  const r = inputs.request;
  const contributionsOf = (values: readonly number[], c: number) =>
    inputs.agents.map((agent, a) => ({
      $typeName: "chorus.v1.AgentContribution" as const,
      agent,
      weight: r.weights[a]!,
      confidence: r.confidence[a]!,
      score: r.scores[a * inventory.size + c]!,
      contribution: values[a]!,
    }));
  const out = chosen.map((w, i) => {
    const cand = inventory.candidates[w.index]!;
    return create(CandidateExplanationSchema, {
      creativeId: cand.creative.id,
      campaignId: cand.campaign.id,
      advertiserId: cand.campaign.advertiserId,
      chosen: true,
      quality: w.quality,
      relevance: w.relevance,
      valueMicros: r.bid[w.index]! * r.pResponse[w.index]!,
      rank: w.rank,
      priceMicros: w.priceMicros,
      contributions: contributionsOf(w.contributions, w.index),
      summary: `position ${i + 1}: rank ${w.rank.toFixed(1)} cleared at ${w.priceMicros} micros`,
    });
  });
  for (const l of rankedLosers(inputs, inventory, chosen, EXPLAINED_LOSERS)) {
    const cand = inventory.candidates[l.index]!;
    out.push(
      create(CandidateExplanationSchema, {
        creativeId: cand.creative.id,
        campaignId: cand.campaign.id,
        advertiserId: cand.campaign.advertiserId,
        quality: l.quality,
        relevance: l.relevance,
        valueMicros: l.value,
        rank: l.rank,
        contributions: contributionsOf(l.contributions, l.index),
        summary: `lost: rank ${l.rank.toFixed(1)} (pod full, duration or separation)`,
      }),
    );
  }
  for (const [c, details] of inputs.vetoDetails) {
    const cand = inventory.candidates[c]!;
    out.push(
      create(CandidateExplanationSchema, {
        creativeId: cand.creative.id,
        campaignId: cand.campaign.id,
        advertiserId: cand.campaign.advertiserId,
        vetoes: details,
        summary: `vetoed: ${details[0]}`,
      }),
    );
  }
  return out;
}

/** The AuctionOutcome entries: winners, then the best losers (plain messages: built once per decision, many). */
export function auctionEntries(inputs: KernelInputs, inventory: Inventory, chosen: readonly Winner[]): AuctionEntry[] {
  const r = inputs.request;
  const priceToBeat = chosen.reduce((m, w) => (m === 0n || w.priceMicros < m ? w.priceMicros : m), 0n);
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
