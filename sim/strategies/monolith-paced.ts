import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Campaign, PacingMode } from "../../gen/chorus/v1/campaign_pb.ts";
import { BreakKind, ContentKind } from "../../gen/chorus/v1/common_pb.ts";
import {
  type AdEvent,
  AdEventType,
  type DecideRequest,
  type DecideResponse,
  DecideResponseSchema,
  NoFillReason,
  type PodAd,
  PodAdSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { adviseBreak } from "../../voting/timing/advise-break.ts";
import { MonolithStrategy } from "./monolith.ts";

/** PI gains on the pacing error (share of the budget behind plan), per simulated minute for the integral. */
export interface PacedMonolithSettings {
  kp: number;
  ki: number;
  /** Multiplier before any feedback, and its bounds (bid = multiplier x max bid, so at most the max bid). */
  initialMultiplier: number;
  minMultiplier: number;
  /** A sold ad whose impression has not come after this long (simulated ms) no longer counts as spend. */
  soldWindowMs: number;
}

export const DEFAULT_PACED_SETTINGS: PacedMonolithSettings = {
  kp: 4,
  ki: 0.2,
  initialMultiplier: 0.7,
  minMultiplier: 0.1,
  soldWindowMs: 30 * 60_000,
};

interface Pacer {
  /** Integral of the pacing error (share of budget x minutes), bounded against wind-up. */
  integral: number;
  lastUpdateMs: number;
  multiplier: number;
  /** Sold, impression not yet heard: price and when. */
  pending: Map<string, { price: bigint; atMs: number }>;
  pendingMicros: bigint;
  chargedMicros: bigint;
}

/**
 * The strong baseline: the same sequential pipeline (targeting filter, then an auction, then the first fitting
 * creative), with what a careful ad server adds without any agent. Break points: Chorus's Timing rules
 * (agents/timing/advise-break.ts) read from the request alone: between tracks, at chapter markers, never mid-track.
 * Pacing: a PI controller per campaign on spend against an even plan over the flight (ASAP: the whole budget at
 * once), bid = multiplier x max bid (the advertiser's stated value), as in the budget-pacing literature (e.g.
 * Agarwal et al., "Budget pacing for targeted online advertisements at LinkedIn", KDD 2014). Spend: it counts
 * what it sold at once (not when the late impression comes) and never sells beyond the budget. Auction: second
 * price over its campaigns against the floor (the competing demand).
 */
export class MonolithPacedStrategy extends MonolithStrategy {
  override readonly name = "monolith-paced";
  private readonly pacers = new Map<string, Pacer>();

  constructor(private readonly settings: PacedMonolithSettings = DEFAULT_PACED_SETTINGS) {
    super(0);
  }

  override async decide(request: DecideRequest, atSimMs: number): Promise<DecideResponse> {
    const decisionId = `monolith-paced-${++this.decisions}`;
    const nowMs = this.clock.toWallMs(atSimMs);
    const ctx = request.context;
    const advice = adviseBreak(
      {
        positionMs: ctx?.positionMs ?? 0,
        durationMs: ctx?.contentDurationMs ?? 0,
        contentKind: ctx?.contentKind ?? ContentKind.UNSPECIFIED,
        chapterMarkersMs: ctx?.chapterMarkersMs ?? [],
        silenceMarkersMs: [],
        paused: false,
        justSkipped: false,
      },
      { breakKind: request.placement?.breakKind ?? BreakKind.MID_ROLL, forceNow: request.placement?.forceNow ?? false },
    );
    if (!advice.breakNow)
      return create(DecideResponseSchema, {
        decisionId,
        noFillReason: NoFillReason.NOT_A_GOOD_MOMENT,
        nextBreakOffsetMs: advice.insertionOffsetMs,
        coordination: "monolith-paced",
      });

    const floor = request.placement?.floorPriceMicros ?? 0n;
    const bids = this.campaigns
      .filter((c) => this.targets(c, request, nowMs))
      .map((c) => ({ campaign: c, bid: this.bid(c, nowMs, atSimMs) }))
      .filter((b) => b.bid > 0n && b.bid >= floor)
      .sort((a, b) => Number(b.bid - a.bid) || (a.campaign.id < b.campaign.id ? -1 : 1));
    const ads: PodAd[] = [];
    let room = request.placement?.maxDurationMs ?? 0;
    const maxAds = request.placement?.maxAds ?? 1;
    for (let i = 0; i < bids.length && ads.length < maxAds; i++) {
      const { campaign, bid } = bids[i]!;
      const next = bids[i + 1]?.bid ?? 0n;
      const price = next > floor ? next : floor > 0n ? floor : 1n;
      const pacer = this.pacer(campaign, atSimMs);
      if (pacer.chargedMicros + pacer.pendingMicros + price > campaign.budgetMicros) continue;
      const creative = this.firstFitting(campaign, request, room);
      if (!creative) continue;
      room -= creative.durationMs;
      pacer.pending.set(`${decisionId}|${creative.id}`, { price, atMs: atSimMs });
      pacer.pendingMicros += price;
      ads.push(
        create(PodAdSchema, {
          sequence: ads.length + 1,
          creativeId: creative.id,
          campaignId: campaign.id,
          advertiserId: campaign.advertiserId,
          priceMicros: price < bid ? price : bid,
          format: creative.format,
          durationMs: creative.durationMs,
          insertionOffsetMs: advice.insertionOffsetMs,
          mediaUrl: creative.mediaUrl,
          clickUrl: creative.clickUrl,
          iabCategory: creative.iabCategory,
        }),
      );
    }
    if (ads.length === 0)
      return create(DecideResponseSchema, {
        decisionId,
        noFillReason: bids.length > 0 ? NoFillReason.NO_BUDGET_LEASE : NoFillReason.BELOW_RESERVE,
        coordination: "monolith-paced",
      });
    this.recordSale(decisionId, request.user?.userId ?? "", ads, nowMs);
    return create(DecideResponseSchema, { decisionId, ads, coordination: "monolith-paced" });
  }

  override async reportEvents(events: readonly AdEvent[]): Promise<void> {
    await super.reportEvents(events);
    for (const e of events) {
      if (e.type !== AdEventType.IMPRESSION) continue;
      const sale = this.sold.get(e.decisionId)?.get(e.creativeId);
      const pacer = sale && this.pacers.get(sale.campaignId);
      const pending = pacer?.pending.get(`${e.decisionId}|${e.creativeId}`);
      if (!pacer || !pending) continue;
      pacer.pending.delete(`${e.decisionId}|${e.creativeId}`);
      pacer.pendingMicros -= pending.price;
      pacer.chargedMicros += pending.price;
    }
  }

  /** The campaign's bid now, per impression: the PI multiplier x its max bid (0 outside its flight). */
  private bid(c: Campaign, nowMs: number, atSimMs: number): bigint {
    const pacer = this.pacer(c, atSimMs);
    const maxBid = Number((c.bidStrategy?.maxCpmMicros ?? 0n) / 1000n);
    const start = c.startTime ? timestampMs(c.startTime) : nowMs;
    const end = c.endTime ? timestampMs(c.endTime) : nowMs;
    const planned =
      c.pacing === PacingMode.ASAP || end <= start ? 1 : Math.min(1, Math.max(0, (nowMs - start) / (end - start)));
    const budget = Number(c.budgetMicros);
    const spent = Number(pacer.chargedMicros + pacer.pendingMicros);
    const error = budget > 0 ? planned - spent / budget : 0;
    const minutes = (atSimMs - pacer.lastUpdateMs) / 60_000;
    pacer.lastUpdateMs = atSimMs;
    const { kp, ki, initialMultiplier, minMultiplier } = this.settings;
    // Anti-wind-up: the integral alone never moves the multiplier past its bounds.
    pacer.integral = Math.min(1 / ki, Math.max(-1 / ki, pacer.integral + error * minutes));
    pacer.multiplier = Math.min(1, Math.max(minMultiplier, initialMultiplier + kp * error + ki * pacer.integral));
    return BigInt(Math.floor(pacer.multiplier * maxBid));
  }

  private pacer(c: Campaign, atSimMs: number): Pacer {
    let p = this.pacers.get(c.id);
    if (!p) {
      p = {
        integral: 0,
        lastUpdateMs: atSimMs,
        multiplier: this.settings.initialMultiplier,
        pending: new Map(),
        pendingMicros: 0n,
        chargedMicros: 0n,
      };
      this.pacers.set(c.id, p);
    }
    // Sold ads never impressed (the session ended first) stop counting once their impression can no longer come.
    for (const [key, sale] of p.pending)
      if (atSimMs - sale.atMs > this.settings.soldWindowMs) {
        p.pending.delete(key);
        p.pendingMicros -= sale.price;
      }
    return p;
  }
}
