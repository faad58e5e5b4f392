import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { CampaignSchema, CreativeSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { AgeBracket, ConsentSchema, ContentKind, DeviceType, GeoSchema } from "../../gen/chorus/v1/common_pb.ts";
import { PlaybackSignalSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { DEMO_GENRES, DEMO_MOODS } from "../../lib/demo/demo-catalog.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { applyImpression, applyPlayback, createIntentState } from "./state.ts";
import { checkTargeting } from "./targeting.ts";
import { TargetingIndex } from "./targeting-index.ts";

const NOON = Date.UTC(2026, 0, 1, 12);

describe("intent - compiled targeting", () => {
  it("gives every candidate the veto checkTargeting gives it, over varied requests, tastes and caps", () => {
    const inventory = demoInventory();
    const index = TargetingIndex.of(inventory);
    const rnd = createSeededRandom(11);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const state = createIntentState();
    const users = Array.from({ length: 20 }, (_, u) => `listener-${u}`);
    for (let i = 0; i < 400; i++) {
      const userId = pick(users);
      applyPlayback(
        state,
        create(PlaybackSignalSchema, {
          userId,
          sessionId: "s",
          at: timestampFromMs(NOON - 60_000),
          kind:
            rnd() < 0.8
              ? { case: "contentStart", value: { genre: pick(DEMO_GENRES), moodTags: [pick(DEMO_MOODS)] } }
              : { case: "skip", value: {} },
        }),
      );
      const ad = pick(inventory.candidates);
      const entry = { userId, campaignId: ad.campaign.id, event: { occurredAt: timestampFromMs(NOON - 1_000) } };
      applyImpression(state, create(LedgerEntrySchema, entry), () => true);
    }
    let vetoed = 0;
    for (let i = 0; i < 300; i++) {
      const base = demoRequest();
      const request = demoRequest({
        user: {
          ...base.user!,
          userId: pick(users),
          consent: create(ConsentSchema, { personalizedAds: rnd() < 0.7, measurement: true }),
          ageBracket: pick([
            AgeBracket.AGE_BRACKET_18_24,
            AgeBracket.AGE_BRACKET_35_44,
            AgeBracket.AGE_BRACKET_UNSPECIFIED,
          ]),
          geo: create(GeoSchema, { country: pick(["DE", "FR", "US", ""]) }),
        },
        device: { ...base.device!, type: pick([DeviceType.PHONE, DeviceType.DESKTOP, DeviceType.TV]) },
        context: {
          ...base.context!,
          contentKind: pick([ContentKind.MUSIC, ContentKind.PODCAST, ContentKind.UNSPECIFIED]),
          genre: rnd() < 0.3 ? "" : pick(DEMO_GENRES).toUpperCase(),
          moodTags: rnd() < 0.3 ? [] : [pick(DEMO_MOODS)],
        },
      });
      const profile = state.profiles.get(request.user!.userId);
      const nowMs = NOON + Math.floor(rnd() * 24) * 3_600_000;
      const expected = inventory.candidates.flatMap((c) => {
        const no = checkTargeting(c.campaign, request, profile, nowMs);
        return no ? [{ candidate: c.index, reason: no.reason, detail: no.detail }] : [];
      });
      const actual = index.vetoes(request, profile, nowMs).map(({ candidate, reason, detail }) => ({
        candidate,
        reason,
        detail,
      }));
      expect(actual).toEqual(expected);
      vetoed += actual.length;
    }
    // The cases exercise the rules: most requests exclude something, none excludes everything.
    expect(vetoed).toBeGreaterThan(300 * 10);
    expect(vetoed).toBeLessThan(300 * inventory.size);
  });

  it("a frequency cap's veto follows the listener's count: the next impression changes its detail", () => {
    const campaign = create(CampaignSchema, {
      id: "capped",
      frequencyCap: { maxImpressions: 2, windowSeconds: 3_600 },
    });
    const inventory = demoInventory({
      campaigns: [campaign],
      creatives: ["a", "b"].map((id) => create(CreativeSchema, { id, campaignId: "capped" })),
    });
    const index = TargetingIndex.of(inventory);
    const state = createIntentState();
    const request = demoRequest();
    const userId = request.user!.userId;
    const details = (): string[] => index.vetoes(request, state.profiles.get(userId), NOON).map((v) => v.detail);
    const impression = () =>
      applyImpression(
        state,
        create(LedgerEntrySchema, {
          userId,
          campaignId: "capped",
          event: { occurredAt: timestampFromMs(NOON - 1_000) },
        }),
        () => true,
      );
    impression();
    expect(details()).toEqual([]);
    impression();
    expect(details()).toEqual(Array(2).fill("frequency cap: 2 impressions in 3600 s (max 2)"));
    impression();
    const expected = checkTargeting(campaign, request, state.profiles.get(userId), NOON)?.detail;
    expect(expected).toBe("frequency cap: 3 impressions in 3600 s (max 2)");
    expect(details()).toEqual([expected, expected]);
  });
});
