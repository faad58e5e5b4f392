import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Retriever } from "../gateway/decide/retrieval.ts";
import { VetoReason } from "../gen/chorus/v1/agent_pb.ts";
import type { ObservedDecision } from "./strategies/chorus-virtual.ts";

/**
 * Diagnostics for the virtual-time Chorus: why each campaign did not sell the breaks it was a candidate for. For
 * every decision that ran the auction, each campaign the request's targeting index lets through counts once, under
 * the first cause that applies: sold; not retrieved (the gateway held no spend headroom for it); vetoed (by the
 * veto's reason: throttled, exhausted, no lease, frequency cap, targeting...); below the reserve (its best value,
 * bid x response, under the floor: `belowReserveMaxClears` when its max bid would have cleared it); outbid. Read-only:
 * it looks at what the decision was made on and never changes it.
 */
export class LossReasons {
  readonly totals: Record<string, number> = {};
  readonly byCampaign = new Map<string, Record<string, number>>();
  /** Decisions Timing held back (no auction). */
  heldBack = 0;
  auctions = 0;
  private readonly everyone = new Retriever({ maxCandidates: 1_024 });

  observe = (d: ObservedDecision): void => {
    if (!d.pod.kernelResult) {
      this.heldBack++;
      return;
    }
    this.auctions++;
    const r = d.pod.inputs.request;
    const won = new Set(d.pod.chosen.map((w) => d.inventory.candidates[w.index]!.campaign.id));
    const best = new Map<string, { value: number; veto: number; maxClears: boolean }>();
    for (const c of d.inventory.candidates) {
      const id = c.campaign.id;
      const value = r.bid[c.index]! * r.pResponse[c.index]!;
      const veto = r.vetoMask[c.index]!;
      const maxClears = Number(c.campaign.bidStrategy?.maxCpmMicros ?? 0n) / 1000 >= r.reservePrice;
      const prev = best.get(id);
      // Prefer an unvetoed candidate, then the highest value.
      if (!prev || (prev.veto !== 0 && veto === 0) || ((prev.veto === 0) === (veto === 0) && value > prev.value))
        best.set(id, { value, veto: prev && prev.veto !== 0 && veto !== 0 ? prev.veto | veto : veto, maxClears });
    }
    const inFlight = (id: string) => {
      const c = d.catalog.candidates.find((x) => x.campaign.id === id)?.campaign;
      if (!c) return false;
      const start = c.startTime ? timestampMs(c.startTime) : 0;
      const end = c.endTime ? timestampMs(c.endTime) : Number.POSITIVE_INFINITY;
      return d.nowMs >= start && d.nowMs < end;
    };
    const all = new Set(this.everyone.retrieve(d.catalog, d.request, d.nowMs).candidates.map((c) => c.campaign.id));
    for (const id of all) {
      if (!inFlight(id)) continue;
      const b = best.get(id);
      let why: string;
      if (won.has(id)) why = "sold";
      else if (!b) why = "notRetrievedNoHeadroom";
      else if (b.veto !== 0) why = vetoName(b.veto);
      else if (b.value < r.reservePrice) why = b.maxClears ? "belowReserveMaxClears" : "belowReserveAboveMax";
      else why = "outbid";
      this.totals[why] = (this.totals[why] ?? 0) + 1;
      let row = this.byCampaign.get(id);
      if (!row) {
        row = {};
        this.byCampaign.set(id, row);
      }
      row[why] = (row[why] ?? 0) + 1;
    }
  };
}

/** The first veto reason in order of how directly budget pacing causes it. */
const ORDER = [
  VetoReason.NO_LEASE,
  VetoReason.BUDGET_THROTTLED,
  VetoReason.BUDGET_EXHAUSTED,
  VetoReason.FREQUENCY_CAP,
  VetoReason.TARGETING,
  VetoReason.CONSENT,
  VetoReason.POLICY,
  VetoReason.EXPLICIT_CONTENT,
  VetoReason.FORMAT_MISMATCH,
  VetoReason.DURATION_MISMATCH,
  VetoReason.CREATIVE_INVALID,
];

function vetoName(mask: number): string {
  for (const reason of ORDER) if (mask & (1 << reason)) return `veto:${VetoReason[reason]}`;
  return "veto:OTHER";
}
