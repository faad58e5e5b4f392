import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { BidStrategy_Kind, CampaignSchema, CreativeSchema, Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import type { HandlerContext } from "../contract/agent-module.ts";
import { offerValueMicros, recordAuction } from "./campaign-bidder.ts";
import { applyOutcome, applyResponse, contextKey, createBiddingState } from "./state.ts";

const NOW = Date.UTC(2026, 0, 1, 12);

function wonAd(goal: Goal) {
  const inventory = demoInventory({
    campaigns: [
      create(CampaignSchema, {
        id: "c1",
        goal,
        budgetMicros: 10_000_000n,
        dailyBudgetMicros: 2_000_000n,
        bidStrategy: { kind: BidStrategy_Kind.MAX_GOAL, maxCpmMicros: 20_000_000n },
      }),
    ],
    creatives: [create(CreativeSchema, { id: "cr1", campaignId: "c1", format: AdFormat.AUDIO, durationMs: 15_000 })],
  });
  const ctx: HandlerContext = { nowMs: NOW, inventory: () => inventory, owns: () => true };
  const state = createBiddingState();
  applyOutcome(
    state,
    create(AuctionOutcomeSchema, {
      decisionId: "d1",
      request: demoRequest(),
      decidedAt: timestampFromMs(NOW),
      entries: [{ creativeId: "cr1", bidMicros: 20_000, predictedResponse: 0.1, won: true, priceMicros: 300n }],
    }),
    ctx,
  );
  return state;
}

const event = (type: AdEventType) =>
  create(LedgerEntrySchema, { event: { eventId: `e-${type}`, decisionId: "d1", creativeId: "cr1", type } });

describe("bidding - responses are the campaign's goal events only", () => {
  it("counts a click for a click campaign once; skips, quartiles and completes are not responses", () => {
    const state = wonAd(Goal.CLICKS);
    for (const t of [AdEventType.SKIP, AdEventType.FIRST_QUARTILE, AdEventType.COMPLETE, AdEventType.CONVERSION])
      expect(applyResponse(state, event(t))).toEqual([]);
    expect(applyResponse(state, event(AdEventType.CLICK))).not.toEqual([]);
    // A second click on the same ad is not a second response.
    expect(applyResponse(state, event(AdEventType.CLICK))).toEqual([]);
  });

  it("completes for completion campaigns, conversions for conversion campaigns, the impression for impression campaigns", () => {
    expect(applyResponse(wonAd(Goal.COMPLETIONS), event(AdEventType.COMPLETE))).not.toEqual([]);
    expect(applyResponse(wonAd(Goal.COMPLETIONS), event(AdEventType.CLICK))).toEqual([]);
    expect(applyResponse(wonAd(Goal.COMPLETIONS), event(AdEventType.IMPRESSION))).toEqual([]);
    expect(applyResponse(wonAd(Goal.CONVERSIONS), event(AdEventType.CONVERSION))).not.toEqual([]);
    expect(applyResponse(wonAd(Goal.IMPRESSIONS), event(AdEventType.CLICK))).toEqual([]);
    expect(applyResponse(wonAd(Goal.IMPRESSIONS), event(AdEventType.IMPRESSION))).not.toEqual([]);
  });

  it("an impression campaign that keeps playing its ads keeps its value (its calibration does not decay)", () => {
    const state = wonAd(Goal.IMPRESSIONS);
    const e = state.campaigns.get("c1")!;
    const before = offerValueMicros(e.bidder, contextKey(demoRequest()), 1);
    for (let i = 0; i < 200; i++) {
      const key = contextKey(demoRequest());
      recordAuction(e.bidder, {
        contextKey: key,
        predictedResponse: 1,
        bidMicros: 20_000,
        won: true,
        priceMicros: 300,
      });
      state.won.set(`d${i}/cr1`, { campaignId: "c1", contextKey: key, goal: Goal.IMPRESSIONS });
      applyResponse(
        state,
        create(LedgerEntrySchema, {
          event: { eventId: `i${i}`, decisionId: `d${i}`, creativeId: "cr1", type: AdEventType.IMPRESSION },
        }),
      );
    }
    // Every won ad played: the value per impression stays at the prior's (max bid), not a quarter of it.
    expect(offerValueMicros(e.bidder, contextKey(demoRequest()), 1)).toBeGreaterThan(0.9 * before);
  });
});
