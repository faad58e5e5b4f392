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
import { applyOutcome, applyResponse, createBiddingState } from "./state.ts";

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

  it("completes for completion campaigns, conversions for conversion campaigns, nothing for impression campaigns", () => {
    expect(applyResponse(wonAd(Goal.COMPLETIONS), event(AdEventType.COMPLETE))).not.toEqual([]);
    expect(applyResponse(wonAd(Goal.COMPLETIONS), event(AdEventType.CLICK))).toEqual([]);
    expect(applyResponse(wonAd(Goal.CONVERSIONS), event(AdEventType.CONVERSION))).not.toEqual([]);
    expect(applyResponse(wonAd(Goal.IMPRESSIONS), event(AdEventType.CLICK))).toEqual([]);
  });
});
