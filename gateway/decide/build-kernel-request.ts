import { type AgentVote, VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import type { SpendGuard } from "../../ledger/ports.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { kernelWeights } from "../../voting/orchestrator/vote.ts";
import { AuctionType, type KernelRequest } from "../../wasm-core/src/kernel-inputs.ts";
import { kernelInventoryVersion } from "./kernel-port.ts";

export interface KernelInputs {
  request: KernelRequest;
  /** Agents in kernel row order. */
  agents: readonly string[];
  /** Human-readable veto reasons per candidate (for explanations; empty unless asked for). */
  vetoDetails: Map<number, string[]>;
}

/**
 * The kernel request from the votes: the intent vector, A x N scores (an agent without an opinion scores 0),
 * confidences, the orchestrator's weights (halved for degraded agents), the OR of veto bits (plus NO_LEASE for
 * campaigns this gateway holds no spend headroom for), bids, predicted responses and the placement's limits.
 * Veto details (strings per candidate) are collected only `withDetails` (an explanation was asked for).
 */
export function buildKernelRequest(
  inventory: Inventory,
  request: DecideRequest,
  votes: ReadonlyMap<string, AgentVote>,
  agents: readonly string[],
  degraded: ReadonlySet<string>,
  spendGuard: SpendGuard | undefined,
  withDetails = false,
): KernelInputs {
  const n = inventory.size;
  const { weights, relevanceWeight } = kernelWeights(votes.get("orchestrator"), agents, degraded);
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
  if (spendGuard) {
    const headroom = new Map<string, bigint>();
    for (const c of inventory.candidates) {
      const id = c.campaign.id;
      if (!headroom.has(id)) headroom.set(id, spendGuard.headroom(id));
      if (headroom.get(id) === 0n) veto(c.index, VetoReason.NO_LEASE, "budget: no spend lease held for this campaign");
    }
  }
  const bids = votes.get("bidding")?.bidsMicros ?? [];
  const predicted = votes.get("relevance")?.predictedResponse ?? [];
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
      bid: denseArray(bids, n, 0),
      pResponse: denseArray(predicted, n, 1),
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
