import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { BidStrategy_Kind, CampaignSchema, CreativeSchema, Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import type { HandlerContext } from "../contract/agent-module.ts";
import { applyOutcome, createBiddingState, restoreBidding, snapshotBidding } from "./state.ts";
import { voteBidding } from "./vote.ts";

const inventory = demoInventory({
  campaigns: [
    create(CampaignSchema, {
      id: "c1",
      goal: Goal.IMPRESSIONS,
      budgetMicros: 10_000_000n,
      dailyBudgetMicros: 2_000_000n,
      bidStrategy: { kind: BidStrategy_Kind.MAX_GOAL, maxCpmMicros: 20_000_000n },
    }),
  ],
  creatives: [create(CreativeSchema, { id: "cr1", campaignId: "c1", format: AdFormat.AUDIO, durationMs: 15_000 })],
});
const NOW = Date.UTC(2026, 0, 1, 12);
const ctx: HandlerContext = { nowMs: NOW, inventory: () => inventory, owns: () => true };

/** The bid after `n` auctions in a market that either sells cheap or outbids us. */
function bidAfter(market: "cheap" | "expensive", n = 2_000): number {
  const state = createBiddingState();
  for (let i = 0; i < n; i++) {
    const won = market === "cheap";
    applyOutcome(
      state,
      create(AuctionOutcomeSchema, {
        decisionId: `d${i}`,
        request: demoRequest(),
        decidedAt: timestampFromMs(NOW - 3_600_000 + i),
        entries: [
          {
            creativeId: "cr1",
            bidMicros: 20_000,
            predictedResponse: 1,
            won,
            priceMicros: won ? 300n : 0n,
            priceToBeatMicros: won ? 0n : 19_000n,
          },
        ],
      }),
      ctx,
    );
  }
  const vote = voteBidding(
    { runId: "00000000-0000-0000-0000-000000000001", request: demoRequest(), inventory, nowMs: NOW, priorVotes: [] },
    state,
  );
  return vote.bidsMicros[0]!;
}

describe("bidding - learned multiplier adapts to the market", () => {
  it("bids lower when it wins too cheaply than when it keeps losing", () => {
    const cheap = bidAfter("cheap");
    const expensive = bidAfter("expensive");
    expect(cheap).toBeGreaterThan(0);
    expect(cheap).toBeLessThan(expensive);
    expect(expensive).toBeLessThanOrEqual(20_000); // never above max CPM / 1000
  });

  it("snapshot and restore give the same bid", () => {
    const state = createBiddingState();
    applyOutcome(
      state,
      create(AuctionOutcomeSchema, {
        decisionId: "d",
        request: demoRequest(),
        decidedAt: timestampFromMs(NOW),
        entries: [{ creativeId: "cr1", bidMicros: 20_000, predictedResponse: 1, won: true, priceMicros: 500n }],
      }),
      ctx,
    );
    const copy = createBiddingState();
    restoreBidding(copy, "global", snapshotBidding(state, "global", "full"));
    const vc = { runId: "r", request: demoRequest(), inventory, nowMs: NOW, priorVotes: [] };
    expect(voteBidding(vc, copy).bidsMicros).toEqual(voteBidding(vc, state).bidsMicros);
  });
});
