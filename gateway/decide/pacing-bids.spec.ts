import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { BidStrategy_Kind, CampaignSchema, CreativeSchema, Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import type { HandlerContext } from "../contract/agent-module.ts";
import { applyOutcome, type BiddingState, createBiddingState } from "./state.ts";
import { voteBidding } from "./vote.ts";

/**
 * Pacing as a campaign sees it through the Bidding agent's vote: the same learned market and the same moment of
 * the flight, only the spend so far differs. Behind plan the bid rises (to the max bid when far behind), ahead of
 * plan it falls, and no bid is ever above what is left of the budget.
 */
const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 1, 10);
const END = START + 2 * HOUR;
const MID = START + HOUR;
const BUDGET = 1_000_000; // micros: 100 ads at the max bid
const MAX_BID = 10_000; // micros per impression (10 USD CPM)
const RUN = "5f0c2a4e-8d1b-4c3a-9e7f-0123456789ab";

function setup(kind: BidStrategy_Kind, goal = Goal.COMPLETIONS) {
  const campaign = create(CampaignSchema, {
    id: "c1",
    goal,
    budgetMicros: BigInt(BUDGET),
    startTime: timestampFromMs(START),
    endTime: timestampFromMs(END),
    bidStrategy: { kind, maxCpmMicros: BigInt(MAX_BID * 1000) },
  });
  const inventory = demoInventory({
    campaigns: [campaign],
    creatives: [create(CreativeSchema, { id: "cr1", campaignId: "c1", format: AdFormat.AUDIO, durationMs: 15_000 })],
  });
  const state = createBiddingState();
  const ctx: HandlerContext = { nowMs: MID, inventory: () => inventory, owns: () => true };
  // A market whose prices to beat spread over 1-9 USD CPM: 400 auctions in the first half hour, most of them lost.
  for (let i = 0; i < 400; i++) {
    const price = 1_000 + ((i * 7919) % 8_000);
    const won = i % 4 === 0;
    applyOutcome(
      state,
      create(AuctionOutcomeSchema, {
        decisionId: `d${i}`,
        request: demoRequest(),
        decidedAt: timestampFromMs(START + (i * HOUR) / 800),
        entries: [
          {
            creativeId: "cr1",
            bidMicros: 5_000 / 0.6,
            predictedResponse: 0.6,
            won,
            priceMicros: won ? BigInt(Math.min(price, 5_000)) : 0n,
            priceToBeatMicros: BigInt(price),
          },
        ],
      }),
      ctx,
    );
  }
  return { inventory, state };
}

/** The bid per impression the vote makes at MID with `spent` of the budget gone (the bidder's own count). */
function bidAt(s: ReturnType<typeof setup>, spent: number, nowMs = MID): number {
  const e = (s.state as BiddingState).campaigns.get("c1")!;
  e.spentMicros = spent;
  const vote = voteBidding(
    { runId: RUN, request: demoRequest(), inventory: s.inventory, nowMs, priorVotes: [] },
    s.state,
  );
  // Without Relevance's vote the prediction is the goal's prior rate: bid per response x prior = per impression.
  return vote.bidsMicros[0]! * 0.6;
}

describe("bidding pacing - behind plan bids up, ahead bids down, never above the budget left", () => {
  it("a campaign behind its plan bids more than one on plan, and one ahead bids less", () => {
    const s = setup(BidStrategy_Kind.MAX_GOAL);
    const onPlan = bidAt(s, BUDGET / 2);
    const behind = bidAt(s, BUDGET / 4);
    const ahead = bidAt(s, (BUDGET * 3) / 4);
    expect(behind).toBeGreaterThan(onPlan);
    expect(ahead).toBeLessThan(onPlan);
    expect(ahead).toBeGreaterThanOrEqual(0);
  });

  it("far behind plan (most of the budget left near the flight's end) it bids its max bid, never above it", () => {
    const s = setup(BidStrategy_Kind.MAX_GOAL);
    // Mid-flight with nothing spent, the market still offers enough to spend it all at a lower bid.
    expect(bidAt(s, 0)).toBeLessThan(MAX_BID);
    expect(bidAt(s, 0, END - 10 * 60_000)).toBeCloseTo(MAX_BID, -1);
    expect(bidAt(s, BUDGET / 2, END - 10 * 60_000)).toBeCloseTo(MAX_BID, -1);
    expect(bidAt(s, 0, END - 60_000)).toBeLessThanOrEqual(MAX_BID + 1);
  });

  it("no bid is above what is left of the budget", () => {
    const s = setup(BidStrategy_Kind.MAX_GOAL);
    for (const left of [0, 1, 2_500, 7_000])
      expect(bidAt(s, BUDGET - left, END - 60_000)).toBeLessThanOrEqual(left + 1);
    const fixed = setup(BidStrategy_Kind.FIXED_CPM);
    expect(bidAt(fixed, BUDGET - 2_500)).toBeLessThanOrEqual(2_501);
  });

  it("a fixed CPM bids its CPM whatever its pace and predicted response (campaign.proto)", () => {
    const s = setup(BidStrategy_Kind.FIXED_CPM);
    expect(bidAt(s, BUDGET / 4)).toBeCloseTo(MAX_BID, -1);
    expect(bidAt(s, (BUDGET * 3) / 4)).toBeCloseTo(MAX_BID, -1);
  });
});
