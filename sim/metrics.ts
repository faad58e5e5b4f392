import { summarize } from "../bench/lib/latency-histogram.ts";
import type { WorldOutcome } from "./world/world.ts";

/** The comparison the simulator prints: advertiser outcomes, listener experience, decision latency. */
export interface SimMetrics {
  /** Σ advertiser value / Σ delivered spend (billable + overrun). */
  advertiserRoi: number;
  campaigns: number;
  campaignsOverBudget: number;
  /** Delivered beyond budgets, in currency units (micros / 1e6), and as a share of all budgets. */
  overrunTotal: number;
  overrunShareOfBudget: number;
  /** Largest single-campaign overrun, as a share of its budget. */
  worstOverrun: number;
  /** Mean of max(0, 1 - delivered/budget) over campaigns: budget left unspent at the end of the flights. */
  underDelivery: number;
  impressions: number;
  /** Ads sold for a later offset (e.g. the track end) that never played because the session ended first. */
  unplayedAds: number;
  /** Share of breaks the strategy filled with its campaigns (the rest went to competing demand). */
  fillRate: number;
  midTrackShare: number;
  leaveAfterAdRate: number;
  listeningHours: number;
  /** Decide calls (first asks and asks again). */
  decisions: number;
  decisionP50Ms: number;
  decisionP99Ms: number;
  decisionErrors: number;
  lateEventsDelivered: string;
  /** Decisions without ads by reason, e.g. "NOT_A_GOOD_MOMENT: 812". */
  noFill: string;
  /** Realtime strategies: worst lag of the simulated clock behind the wall clock (should stay near 0). */
  maxWallLagMs: number;
}

export function simMetrics(o: WorldOutcome): SimMetrics {
  let value = 0;
  let delivered = 0n;
  let budgets = 0n;
  let overrun = 0n;
  let over = 0;
  let worst = 0;
  let under = 0;
  let impressions = 0;
  const books = [...o.ledger.all().values()];
  for (const b of books) {
    value += b.valueMicros;
    delivered += b.billableMicros + b.overrunMicros;
    budgets += b.budgetMicros;
    overrun += b.overrunMicros;
    impressions += b.impressions;
    if (b.overrunMicros > 0n) over++;
    worst = Math.max(worst, Number(b.overrunMicros) / Number(b.budgetMicros));
    under += Math.max(0, 1 - Number(b.billableMicros + b.overrunMicros) / Number(b.budgetMicros));
  }
  const inserted = o.insertions.betweenTracks + o.insertions.atChapterMarker + o.insertions.midTrack;
  const latency = summarize(o.decisionLatency);
  return {
    advertiserRoi: delivered > 0n ? value / Number(delivered) : 0,
    campaigns: books.length,
    campaignsOverBudget: over,
    overrunTotal: Number(overrun) / 1e6,
    overrunShareOfBudget: budgets > 0n ? Number(overrun) / Number(budgets) : 0,
    worstOverrun: worst,
    underDelivery: books.length ? under / books.length : 0,
    impressions,
    unplayedAds: o.unplayedAds,
    fillRate: o.breaks ? (o.breaks - o.competingAds) / o.breaks : 0,
    midTrackShare: inserted ? o.insertions.midTrack / inserted : 0,
    leaveAfterAdRate: o.breaks ? o.leftAfterBreak / o.breaks : 0,
    listeningHours: o.listeningMs / 3_600_000,
    decisions: o.opportunities,
    decisionP50Ms: latency.p50,
    decisionP99Ms: latency.p99,
    decisionErrors: o.decisionErrors,
    lateEventsDelivered: `${o.eventsDelivered}/${o.eventsGenerated}`,
    maxWallLagMs: Math.round(o.maxWallLagMs),
    noFill: Object.entries(o.noFill)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => `${reason}: ${n}`)
      .join(", "),
  };
}
