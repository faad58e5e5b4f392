import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Campaign, type Creative, EntityStatus } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
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
import type { SimClock, Strategy, StrategySetup } from "../world/strategy.ts";

/**
 * The baseline: a sequential rule pipeline as a first ad server would be written. Targeting filter -> highest bid
 * (first price) -> first creative that fits -> a break whenever N minutes have passed. No pacing: it stops a
 * campaign only when the spend it has *heard of* (impression events, which arrive late) reaches the budget.
 */
export class MonolithStrategy implements Strategy {
  readonly name: string = "monolith";
  readonly realtime = false;
  protected campaigns: Campaign[] = [];
  protected creativesByCampaign = new Map<string, Creative[]>();
  private blockedGenres = new Map<string, readonly string[]>();
  protected clock: SimClock = { toWallMs: (ms) => ms };
  protected readonly knownSpend = new Map<string, bigint>();
  protected readonly sold = new Map<string, Map<string, { campaignId: string; priceMicros: bigint }>>();
  private readonly lastBreak = new Map<string, number>();
  /** Impressions served per user and campaign (wall ms), for frequency caps. */
  protected readonly served = new Map<string, number[]>();
  protected decisions = 0;

  constructor(private readonly breakEveryMs: number) {}

  async launch(): Promise<void> {}

  async start(setup: StrategySetup): Promise<void> {
    this.clock = setup.clock;
    this.campaigns = [...setup.campaigns];
    for (const a of setup.advertisers) this.blockedGenres.set(a.id, a.blockedGenres);
    for (const cr of setup.creatives) {
      if (cr.status === EntityStatus.ARCHIVED || cr.status === EntityStatus.PAUSED) continue;
      const list = this.creativesByCampaign.get(cr.campaignId) ?? [];
      list.push(cr);
      this.creativesByCampaign.set(cr.campaignId, list);
    }
  }

  async decide(request: DecideRequest, atSimMs: number): Promise<DecideResponse> {
    const decisionId = `monolith-${++this.decisions}`;
    const nowMs = this.clock.toWallMs(atSimMs);
    const session = request.context?.sessionId ?? request.user?.userId ?? "";
    const sessionStart = atSimMs - (request.context?.sessionLengthMs ?? 0);
    if (atSimMs - (this.lastBreak.get(session) ?? sessionStart) < this.breakEveryMs)
      return noFill(decisionId, NoFillReason.NOT_A_GOOD_MOMENT);

    const floor = request.placement?.floorPriceMicros ?? 0n;
    const ranked = this.campaigns
      .filter((c) => this.targets(c, request, nowMs))
      .sort((a, b) => Number(bid(b) - bid(a)) || (a.id < b.id ? -1 : 1));
    if (ranked.length === 0) return noFill(decisionId, NoFillReason.NO_ELIGIBLE_CANDIDATE);
    const ads: PodAd[] = [];
    let room = request.placement?.maxDurationMs ?? 0;
    for (const campaign of ranked) {
      if (ads.length >= (request.placement?.maxAds ?? 1)) break;
      const price = bid(campaign);
      if (price < floor) break; // ranked by bid: no later campaign beats the floor either
      const creative = this.firstFitting(campaign, request, room);
      if (!creative) continue;
      room -= creative.durationMs;
      ads.push(
        create(PodAdSchema, {
          sequence: ads.length + 1,
          creativeId: creative.id,
          campaignId: campaign.id,
          advertiserId: campaign.advertiserId,
          priceMicros: price,
          format: creative.format,
          durationMs: creative.durationMs,
          insertionOffsetMs: request.context?.positionMs ?? 0,
          mediaUrl: creative.mediaUrl,
          clickUrl: creative.clickUrl,
          iabCategory: creative.iabCategory,
        }),
      );
    }
    if (ads.length === 0) return noFill(decisionId, NoFillReason.BELOW_RESERVE);
    this.lastBreak.set(session, atSimMs);
    this.recordSale(decisionId, request.user?.userId ?? "", ads, nowMs);
    return create(DecideResponseSchema, { decisionId, ads, coordination: "monolith" });
  }

  /** What a sale leaves behind: its prices for the events to charge, and the user's serves for frequency caps. */
  protected recordSale(decisionId: string, userId: string, ads: readonly PodAd[], nowMs: number): void {
    this.sold.set(
      decisionId,
      new Map(ads.map((a) => [a.creativeId, { campaignId: a.campaignId, priceMicros: a.priceMicros }])),
    );
    for (const a of ads) {
      const key = `${userId}|${a.campaignId}`;
      this.served.set(key, [...(this.served.get(key) ?? []), nowMs]);
    }
  }

  async reportPlayback(): Promise<void> {}

  async reportEvents(events: readonly AdEvent[]): Promise<void> {
    for (const e of events) {
      if (e.type !== AdEventType.IMPRESSION) continue;
      const sale = this.sold.get(e.decisionId)?.get(e.creativeId);
      if (!sale) continue;
      this.knownSpend.set(sale.campaignId, (this.knownSpend.get(sale.campaignId) ?? 0n) + sale.priceMicros);
    }
  }

  async stop(): Promise<void> {}

  /** The targeting filter: status, flight, known budget, audience, content, consent, brand safety, frequency. */
  targets(c: Campaign, r: DecideRequest, nowMs: number): boolean {
    const t = c.targeting;
    const ctx = r.context;
    if (c.status !== EntityStatus.ACTIVE && c.status !== EntityStatus.UNSPECIFIED) return false;
    if (c.startTime && nowMs < timestampMs(c.startTime)) return false;
    if (c.endTime && nowMs >= timestampMs(c.endTime)) return false;
    if ((this.knownSpend.get(c.id) ?? 0n) >= c.budgetMicros) return false;
    if (t?.countries.length && !t.countries.includes(r.user?.geo?.country ?? "")) return false;
    if (t?.ageBrackets.length && !t.ageBrackets.includes(r.user?.ageBracket ?? 0)) return false;
    if (t?.deviceTypes.length && !t.deviceTypes.includes(r.device?.type ?? 0)) return false;
    if (t?.genres.length && !t.genres.includes(ctx?.genre ?? "")) return false;
    if (t?.moods.length && !t.moods.some((m) => ctx?.moodTags.includes(m))) return false;
    if (t?.contentKinds.length && !t.contentKinds.includes(ctx?.contentKind ?? 0)) return false;
    if (t?.requirePersonalizationConsent && !r.user?.consent?.personalizedAds) return false;
    if (this.blockedGenres.get(c.advertiserId)?.includes(ctx?.genre ?? "")) return false;
    const cap = c.frequencyCap;
    if (cap && cap.maxImpressions > 0) {
      const since = nowMs - cap.windowSeconds * 1000;
      const recent = (this.served.get(`${r.user?.userId ?? ""}|${c.id}`) ?? []).filter((at) => at > since);
      if (recent.length >= cap.maxImpressions) return false;
    }
    return true;
  }

  /** The first creative, in catalog order, whose format the device can show and that fits the room left. */
  protected firstFitting(c: Campaign, r: DecideRequest, roomMs: number): Creative | undefined {
    const allowed = r.placement?.allowedFormats ?? [];
    const visual = r.device?.screenOn && r.device.type !== DeviceType.SMART_SPEAKER;
    return this.creativesByCampaign
      .get(c.id)
      ?.find(
        (cr) =>
          cr.durationMs <= roomMs &&
          (allowed.length === 0 || allowed.includes(cr.format)) &&
          (cr.format === AdFormat.AUDIO || visual),
      );
  }
}

/** First price: the campaign pays its max CPM, per impression. */
function bid(c: Campaign): bigint {
  return (c.bidStrategy?.maxCpmMicros ?? 0n) / 1000n;
}

function noFill(decisionId: string, reason: NoFillReason): DecideResponse {
  return create(DecideResponseSchema, { decisionId, noFillReason: reason, coordination: "monolith" });
}
