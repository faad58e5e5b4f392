import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  AdvertiserSchema,
  BidStrategy_Kind,
  type Campaign,
  CampaignSchema,
  CreativeSchema,
  Goal,
  PacingMode,
} from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { AdEventSchema, AdEventType, DecideRequestSchema, NoFillReason } from "../../gen/chorus/v1/decision_pb.ts";
import { MonolithStrategy } from "./monolith.ts";

const MIN = 60_000;
const clock = { toWallMs: (ms: number) => 1_700_000_000_000 + ms };

const campaign = (id: string, cpm: number, over: Omit<MessageInitShape<typeof CampaignSchema>, "$typeName"> = {}) =>
  create(CampaignSchema, {
    id,
    advertiserId: "adv",
    name: id,
    budgetMicros: 1_000_000n,
    startTime: timestampFromMs(clock.toWallMs(0)),
    endTime: timestampFromMs(clock.toWallMs(600 * MIN)),
    pacing: PacingMode.EVEN,
    goal: Goal.IMPRESSIONS,
    bidStrategy: { kind: BidStrategy_Kind.FIXED_CPM, maxCpmMicros: BigInt(cpm) * 1_000_000n },
    targeting: { genres: ["rock"] },
    ...over,
  });
const creatives = (campaignId: string) => [
  create(CreativeSchema, { id: `${campaignId}-video`, campaignId, format: AdFormat.VIDEO, durationMs: 15_000 }),
  create(CreativeSchema, { id: `${campaignId}-audio-long`, campaignId, format: AdFormat.AUDIO, durationMs: 45_000 }),
  create(CreativeSchema, { id: `${campaignId}-audio`, campaignId, format: AdFormat.AUDIO, durationMs: 20_000 }),
];
const request = (over: { user?: string; session?: string; genre?: string; screenOn?: boolean; floor?: bigint } = {}) =>
  create(DecideRequestSchema, {
    requestId: "r",
    placement: {
      breakKind: BreakKind.MID_ROLL,
      maxDurationMs: 30_000,
      maxAds: 1,
      floorPriceMicros: over.floor ?? 0n,
    },
    user: { userId: over.user ?? "u1", geo: { country: "DE" } },
    device: { type: DeviceType.PHONE, screenOn: over.screenOn ?? false },
    context: {
      sessionId: over.session ?? "s1",
      contentKind: ContentKind.MUSIC,
      genre: over.genre ?? "rock",
      positionMs: 61_000,
      sessionLengthMs: 10 * MIN,
    },
  });

async function monolith(campaigns: Campaign[]) {
  const m = new MonolithStrategy(8 * MIN);
  await m.start({
    advertisers: [create(AdvertiserSchema, { id: "adv", name: "adv" })],
    campaigns,
    creatives: campaigns.flatMap((c) => creatives(c.id)),
    clock,
    seed: 1,
  });
  return m;
}

describe("monolith", () => {
  it("monolith - highest bid among targeted campaigns, first creative that fits, paid at its bid, inserted now", async () => {
    const m = await monolith([
      campaign("low", 5),
      campaign("high", 20),
      campaign("jazz-only", 50, { targeting: { genres: ["jazz"] } }),
    ]);
    const r = await m.decide(request(), 10 * MIN);
    expect(r.ads).toHaveLength(1);
    // Screen off: the video is skipped, the 45 s audio does not fit 30 s, so the 20 s audio.
    expect(r.ads[0]).toMatchObject({
      campaignId: "high",
      creativeId: "high-audio",
      priceMicros: 20_000n,
      insertionOffsetMs: 61_000,
    });
  });

  it("monolith - a break only every N minutes per session", async () => {
    const m = await monolith([campaign("c", 10)]);
    expect((await m.decide(request(), 10 * MIN)).ads).toHaveLength(1);
    const tooSoon = await m.decide(request(), 15 * MIN);
    expect(tooSoon.ads).toHaveLength(0);
    expect(tooSoon.noFillReason).toBe(NoFillReason.NOT_A_GOOD_MOMENT);
    expect((await m.decide(request({ session: "s2", user: "u2" }), 15 * MIN)).ads).toHaveLength(1);
    expect((await m.decide(request(), 18 * MIN)).ads).toHaveLength(1);
  });

  it("monolith - no pacing: serves until the spend it has heard of reaches the budget", async () => {
    const m = await monolith([campaign("c", 10, { budgetMicros: 20_000n })]);
    const sold = [];
    for (let i = 0; i < 3; i++) sold.push(await m.decide(request({ session: `s${i}`, user: `u${i}` }), 10 * MIN));
    // Three impressions of 10,000 against 20,000: nothing was reported yet, so it oversold.
    expect(sold.every((r) => r.ads.length === 1)).toBe(true);
    await m.reportEvents(
      sold.map((r, i) =>
        create(AdEventSchema, {
          eventId: `e${i}`,
          decisionId: r.decisionId,
          creativeId: r.ads[0]!.creativeId,
          type: AdEventType.IMPRESSION,
          occurredAt: timestampFromMs(clock.toWallMs(10 * MIN)),
        }),
      ),
    );
    const after = await m.decide(request({ session: "s9", user: "u9" }), 11 * MIN);
    expect(after.noFillReason).toBe(NoFillReason.NO_ELIGIBLE_CANDIDATE);
  });

  it("monolith - targeting filter: flight, genre, consent, frequency cap", async () => {
    const m = await monolith([
      campaign("future", 30, { startTime: timestampFromMs(clock.toWallMs(100 * MIN)) }),
      campaign("consent", 25, { targeting: { genres: ["rock"], requirePersonalizationConsent: true } }),
      campaign("capped", 20, { frequencyCap: { maxImpressions: 1, windowSeconds: 3600 } }),
    ]);
    expect((await m.decide(request(), 10 * MIN)).ads[0]?.campaignId).toBe("capped");
    expect((await m.decide(request({ session: "s2" }), 20 * MIN)).noFillReason).toBe(
      NoFillReason.NO_ELIGIBLE_CANDIDATE,
    );
    expect((await m.decide(request({ session: "s3", genre: "pop" }), 20 * MIN)).noFillReason).toBe(
      NoFillReason.NO_ELIGIBLE_CANDIDATE,
    );
  });

  it("monolith - competing demand above every bid takes the break", async () => {
    const m = await monolith([campaign("c", 10)]);
    const r = await m.decide(request({ floor: 10_001n }), 10 * MIN);
    expect(r.ads).toHaveLength(0);
    expect(r.noFillReason).toBe(NoFillReason.BELOW_RESERVE);
  });
});
