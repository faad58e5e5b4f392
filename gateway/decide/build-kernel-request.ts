import { VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import { campaignSlots } from "../../lib/catalog/campaign-slots.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { AgentName } from "../../lib/subjects.ts";
import type { Votes } from "../../voting/contract/votes.ts";
import type { KernelWeights } from "../../voting/orchestrator/vote.ts";
import { AuctionType, type KernelRequest } from "../../wasm-core/src/kernel-inputs.ts";
import { kernelInventoryVersion } from "./kernel-port.ts";
import type { LeaseHeadroom } from "./lease-headroom.ts";

export interface KernelInputs {
  request: KernelRequest;
  /** Agents in kernel row order. */
  agents: readonly AgentName[];
  /** Human-readable veto reasons per candidate (for explanations; empty unless asked for). */
  vetoDetails: Map<number, string[]>;
}

/**
 * The kernel request from the votes: the intent vector, A x N scores (an agent without an opinion scores 0),
 * confidences, the given weights, the OR of veto bits (plus NO_LEASE for campaigns without spend headroom in the
 * snapshot), bids, predicted responses and the placement's limits. Pure: the spend headroom is a snapshot taken
 * before, by campaign slot (gateway/decide/lease-headroom.ts; undefined = no spend guard), nothing is sent or renewed
 * here.
 * Veto details (strings per candidate) are collected only `withDetails` (an explanation was asked for).
 */
export function buildKernelRequest(
  inventory: Inventory,
  request: DecideRequest,
  votes: Votes,
  agents: readonly AgentName[],
  { weights, relevanceWeight }: KernelWeights,
  headroom: LeaseHeadroom | undefined,
  withDetails = false,
): KernelInputs {
  const n = inventory.size;
  const confidence = new Float32Array(agents.length);
  const scores = new Float32Array(agents.length * n);
  const vetoMask = new Uint32Array(n);
  const vetoDetails = new Map<number, string[]>();
  const veto = (c: number, reason: VetoReason, detail: string) => {
    if (c >= n) return;
    vetoMask[c]! |= 1 << reason;
    if (!withDetails) return;
    const list = vetoDetails.get(c) ?? [];
    list.push(detail || VetoReason[reason]);
    vetoDetails.set(c, list);
  };
  for (let a = 0; a < agents.length; a++) {
    const vote = votes.get(agents[a]!);
    if (!vote) continue;
    confidence[a] = vote.confidence;
    const row = vote.scores;
    if (row.length === n) for (let c = 0; c < n; c++) scores[a * n + c] = Math.min(1, Math.max(0, row[c]!));
    for (const v of vote.vetoes) veto(v.candidate, v.reason, v.detail);
  }
  const { slotOf } = campaignSlots(inventory);
  if (headroom)
    for (let c = 0; c < n; c++)
      if (headroom[slotOf[c]!] === 0n) veto(c, VetoReason.NO_LEASE, "budget: no spend lease held for this campaign");
  const bids = votes.get("bidding")?.bidsMicros ?? [];
  const predicted = votes.get("relevance")?.predictedResponse ?? [];
  const bid = denseArray(bids, n, 0);
  const pResponse = denseArray(predicted, n, 1);
  // The caps per impression, applied here in the kernel's units (bid per response x the response the kernel uses):
  // - never above the campaign's max CPM (campaign.proto: the highest price per thousand impressions). Bidding
  //   votes a bid per response; in parallel and cached coordination it has not seen Relevance's prediction, so it
  //   cannot cap the product itself: capped with its own guess of the response, a campaign whose predicted response
  //   was below that guess could never bid its max, and one above it could bid past it;
  // - never above what the lease can pay: the kernel's price is at most the bid's value, so a winner always fits
  //   its lease, and the last part of a budget (a lease smaller than one ad at the max price) can still be sold, at
  //   a price the lease covers, instead of winning a break the commit must then refuse.
  const maxBids = maxBidsPerImpression(inventory);
  for (let c = 0; c < n; c++) {
    const p = pResponse[c]!;
    if (!(p > 0)) continue;
    let limit = maxBids[c]!;
    if (headroom) {
      const room = headroom[slotOf[c]!]!;
      if (room > 0n) limit = Math.min(limit, Math.max(0, Number(room) - 1));
    }
    if (bid[c]! * p > limit) bid[c] = limit / p;
  }
  const dim = inventory.dim;
  const intentVector = votes.get("intent")?.intentVector ?? [];
  const intent = new Float32Array(dim);
  if (intentVector.length === dim) intent.set(intentVector);
  const placement = request.placement!;
  return {
    agents,
    vetoDetails,
    request: {
      inventoryVersion: kernelInventoryVersion(inventory),
      intent,
      weights,
      confidence,
      scores,
      relevanceWeight,
      vetoMask,
      bid,
      pResponse,
      reservePrice: Number(placement.floorPriceMicros),
      auctionType: AuctionType.SecondPrice,
      maxAds: placement.maxAds,
      maxDurationMs: placement.maxDurationMs,
    },
  };
}

/** The first n values as f32, `missing` past the end of a shorter vote array. */
function denseArray(values: readonly number[], n: number, missing: number): Float32Array {
  const out = new Float32Array(n);
  const m = Math.min(n, values.length);
  for (let c = 0; c < m; c++) out[c] = values[c]!;
  if (m < n) out.fill(missing, m);
  return out;
}

const maxBidsByInventory = new WeakMap<Inventory, Float64Array>();

/** Per candidate, its campaign's max bid per impression in micros (max CPM / 1000; no cap without a max CPM). */
function maxBidsPerImpression(inventory: Inventory): Float64Array {
  let out = maxBidsByInventory.get(inventory);
  if (!out) {
    out = new Float64Array(inventory.size);
    for (const c of inventory.candidates) {
      const cpm = Number(c.campaign.bidStrategy?.maxCpmMicros ?? 0n);
      out[c.index] = cpm > 0 ? cpm / 1000 : Number.POSITIVE_INFINITY;
    }
    maxBidsByInventory.set(inventory, out);
  }
  return out;
}
