import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { BidStrategy_Kind, CampaignSchema, CreativeSchema, Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import type { HandlerContext } from "../contract/agent-module.ts";
import { applyOutcome, createBiddingState, MODEL_SIGNAL_MS, restoreBidding, snapshotBidding } from "./state.ts";
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

describe("bidding - signals: the model at most every MODEL_SIGNAL_MS, the pacing figures in every delta", () => {
  const outcome = (i: number, price: bigint) =>
    create(AuctionOutcomeSchema, {
      decisionId: `d${i}`,
      request: demoRequest(),
      decidedAt: timestampFromMs(NOW + i),
      entries: [{ creativeId: "cr1", bidMicros: 20_000, predictedResponse: 1, won: true, priceMicros: price }],
    });
  const vc = { runId: "r", request: demoRequest(), inventory, nowMs: NOW, priorVotes: [] };

  it("holds a model back within the interval, sends it after, and a mirror bids as the agent once it has it", () => {
    let now = NOW;
    const agent = createBiddingState(() => now);
    const mirror = createBiddingState(() => now);
    applyOutcome(agent, outcome(0, 500n), ctx);
    const first = snapshotBidding(agent, "global", "delta");
    expect(first.campaigns.map((c) => c.bidderJson !== "")).toEqual([true]);
    restoreBidding(mirror, "global", first);

    // Learns again 100 ms later: the delta carries the spend, not the model.
    now += 100;
    for (let i = 1; i <= 50; i++) applyOutcome(agent, outcome(i, 9_000n), ctx);
    const second = snapshotBidding(agent, "global", "delta");
    expect(second.campaigns).toHaveLength(1);
    expect(second.campaigns[0]!.bidderJson).toBe("");
    expect(Number(second.campaigns[0]!.spentMicros)).toBe(500 + 50 * 9_000);
    const planBefore = mirror.campaigns.get("c1")!.bidder;
    restoreBidding(mirror, "global", second);
    expect(mirror.campaigns.get("c1")!.bidder).toBe(planBefore); // model kept
    expect(mirror.campaigns.get("c1")!.spentMicros).toBe(500 + 50 * 9_000); // pacing figures current
    expect(mirror.campaigns.get("c1")!.bidder.observations).toBeLessThan(
      agent.campaigns.get("c1")!.bidder.observations,
    );

    // Nothing changes after; a delta asked for once the interval passed (the runtime's refresh) carries the model.
    now += MODEL_SIGNAL_MS - 100 - 1;
    expect(snapshotBidding(agent, "global", "delta").campaigns).toEqual([]);
    now += 1;
    const third = snapshotBidding(agent, "global", "delta");
    expect(third.campaigns.map((c) => c.bidderJson !== "")).toEqual([true]);
    restoreBidding(mirror, "global", third);
    expect(mirror.campaigns.get("c1")!.bidder.observations).toBe(agent.campaigns.get("c1")!.bidder.observations);
    expect(voteBidding(vc, mirror).bidsMicros).toEqual(voteBidding(vc, agent).bidsMicros);
    // And then nothing is due.
    now += MODEL_SIGNAL_MS;
    expect(snapshotBidding(agent, "global", "delta").campaigns).toEqual([]);
  });

  it("a mirror without the campaign's model ignores its pacing figures; the full snapshot always has the model", () => {
    let now = NOW;
    const agent = createBiddingState(() => now);
    applyOutcome(agent, outcome(0, 500n), ctx);
    snapshotBidding(agent, "global", "delta");
    now += 10;
    applyOutcome(agent, outcome(1, 500n), ctx);
    const late = createBiddingState(() => now);
    restoreBidding(late, "global", snapshotBidding(agent, "global", "delta"));
    expect(late.campaigns.size).toBe(0);
    const full = snapshotBidding(agent, "global", "full");
    expect(full.campaigns.every((c) => c.bidderJson !== "")).toBe(true);
    restoreBidding(late, "global", full);
    expect(voteBidding(vc, late).bidsMicros).toEqual(voteBidding(vc, agent).bidsMicros);
  });
});
