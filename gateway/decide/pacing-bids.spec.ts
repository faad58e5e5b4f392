import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { type AgentVote, AgentVoteSchema, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { BidStrategy_Kind, CampaignSchema, CreativeSchema, Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import type { AgentName } from "../../lib/subjects.ts";
import { applyOutcome, type BiddingState, createBiddingState } from "../../voting/bidding/state.ts";
import { voteBidding } from "../../voting/bidding/vote.ts";
import type { HandlerContext } from "../../voting/contract/agent-module.ts";
import { buildKernelRequest } from "./build-kernel-request.ts";

/**
 * Pacing as a campaign's bid reaches the kernel: the Bidding agent's vote (bid per response, in parallel and cached
 * coordination without Relevance's prediction), times the response the kernel uses, after the gateway's caps per
 * impression (max CPM, lease). The same learned market and moment of the flight, only the spend so far differs:
 * behind plan the bid rises (to the max bid when far behind), ahead of plan it falls, and no bid is ever above the
 * max bid or what the campaign's lease has left.
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

/**
 * The bid per impression the kernel sees at `nowMs` with `spent` of the budget gone (the bidder's own count), for a
 * predicted response `p` (Relevance's vote) and the lease's room left (`room`, micros).
 */
function bidAt(s: ReturnType<typeof setup>, spent: number, nowMs = MID, p = 0.6, room = BigInt(BUDGET)): number {
  const e = (s.state as BiddingState).campaigns.get("c1")!;
  e.spentMicros = spent;
  const request = demoRequest();
  const bidding = voteBidding({ runId: RUN, request, inventory: s.inventory, nowMs, priorVotes: [] }, s.state);
  const relevance = create(AgentVoteSchema, { agent: "relevance", predictedResponse: [p] });
  const votes = new Map<AgentName, AgentVote>([
    ["bidding", bidding],
    ["relevance", relevance],
  ]);
  const agents: AgentName[] = ["bidding", "relevance"];
  const { request: k } = buildKernelRequest(
    s.inventory,
    request,
    votes,
    agents,
    { weights: new Float32Array(2), relevanceWeight: 0 },
    [room], // c1 is the inventory's one campaign (slot 0)
  );
  return k.bid[0]! * k.pResponse[0]!;
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
    const late = END - 10 * 60_000;
    expect(bidAt(s, 0, late)).toBeCloseTo(MAX_BID, -1);
    expect(bidAt(s, BUDGET / 2, late)).toBeCloseTo(MAX_BID, -1);
    // Whatever response the kernel predicts, below or above the goal's prior rate (0.6): up to the max, not past it.
    expect(bidAt(s, 0, late, 0.2)).toBeCloseTo(MAX_BID, -1);
    expect(bidAt(s, 0, late, 0.95)).toBeLessThanOrEqual(MAX_BID * (1 + 1e-6));
    expect(bidAt(s, 0, END - 60_000, 0.95)).toBeLessThanOrEqual(MAX_BID * (1 + 1e-6));
  });

  it("no bid is above what the lease has left", () => {
    for (const kind of [BidStrategy_Kind.MAX_GOAL, BidStrategy_Kind.FIXED_CPM]) {
      const s = setup(kind);
      for (const room of [1n, 2_500n, 7_000n]) {
        expect(bidAt(s, 0, END - 60_000, 0.6, room)).toBeLessThanOrEqual(Number(room));
        expect(bidAt(s, BUDGET - Number(room), MID, 0.9, room)).toBeLessThanOrEqual(Number(room));
      }
    }
  });

  it("a fixed CPM bids its CPM whatever its pace and predicted response (campaign.proto)", () => {
    const s = setup(BidStrategy_Kind.FIXED_CPM);
    for (const p of [0.05, 0.6, 0.99]) {
      expect(bidAt(s, BUDGET / 4, MID, p)).toBeCloseTo(MAX_BID, -1);
      expect(bidAt(s, (BUDGET * 3) / 4, MID, p)).toBeCloseTo(MAX_BID, -1);
    }
  });

  it("a value bid scales with the predicted response below the cap", () => {
    const s = setup(BidStrategy_Kind.MAX_GOAL);
    const onPlan = BUDGET / 2;
    expect(bidAt(s, onPlan, MID, 0.3)).toBeLessThan(bidAt(s, onPlan, MID, 0.6));
  });
});
