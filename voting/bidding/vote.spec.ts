import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { BidStrategy_Kind, CampaignSchema, CreativeSchema, Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import type { HandlerContext } from "../contract/agent-module.ts";
import { applyOutcome, type BiddingState, createBiddingState } from "./state.ts";
import { seedOf, voteBidding } from "./vote.ts";

const NOW = Date.UTC(2026, 0, 1, 12);
const RUN = "5f0c2a4e-8d1b-4c3a-9e7f-0123456789ab";

/** Auctions on every campaign of `inventory`, won at `price` (learning: a new plan per campaign). */
function learn(state: BiddingState, inventory: Inventory, from: number, count: number, price: bigint): void {
  const ctx: HandlerContext = { nowMs: NOW, inventory: () => inventory, owns: () => true };
  for (let i = from; i < from + count; i++)
    applyOutcome(
      state,
      create(AuctionOutcomeSchema, {
        decisionId: `d${i}`,
        request: demoRequest(),
        decidedAt: timestampFromMs(NOW - 60_000 + i),
        entries: inventory.candidates
          .filter((c, k, all) => all.findIndex((o) => o.campaign.id === c.campaign.id) === k)
          .map((c) => ({
            creativeId: c.creative.id,
            bidMicros: 20_000,
            predictedResponse: 0.05,
            won: true,
            priceMicros: price,
          })),
      }),
      ctx,
    );
}

describe("bidding vote - caches across votes", () => {
  // Two copies of one catalog: the caches are per inventory, so the copy's first vote starts cold.
  const warm = demoInventory();
  const vote = (inventory: Inventory, state: BiddingState, nowMs = NOW) =>
    voteBidding({ runId: RUN, request: demoRequest(), inventory, nowMs, priorVotes: [] }, state);

  it("a vote after the state changed equals the vote of a cold cache, and differs from the vote before", () => {
    const state = createBiddingState();
    learn(state, warm, 0, 50, 300n);
    const before = vote(warm, state);
    expect(vote(warm, state)).toEqual(before); // pure: same context, same state
    // Learning: a new plan per campaign.
    learn(state, warm, 50, 200, 9_000n);
    const learned = vote(warm, state);
    expect(learned).toEqual(vote(demoInventory(), state));
    expect(learned.bidsMicros).not.toEqual(before.bidsMicros);
    // The day's spend alone: the same plans, another pace and cap.
    for (const e of state.campaigns.values()) e.spentMicros += 1e12;
    const spent = vote(warm, state);
    expect(spent).toEqual(vote(demoInventory(), state));
    expect(spent.bidsMicros).not.toEqual(learned.bidsMicros);
  });

  it("a vote on the next pace clock tick equals the vote of a cold cache", () => {
    const state = createBiddingState();
    learn(state, warm, 0, 50, 300n);
    vote(warm, state, NOW);
    const later = NOW + 3_600_000;
    expect(vote(warm, state, later)).toEqual(vote(demoInventory(), state, later));
  });

  it("votes on two states in turn (an agent's and a mirror's) each equal their cold-cache vote", () => {
    const a = createBiddingState();
    const b = createBiddingState();
    learn(a, warm, 0, 50, 300n);
    learn(b, warm, 0, 80, 5_000n);
    const coldA = vote(demoInventory(), a);
    const coldB = vote(demoInventory(), b);
    for (let i = 0; i < 3; i++) {
      expect(vote(warm, a)).toEqual(coldA);
      expect(vote(warm, b)).toEqual(coldB);
    }
  });
});

describe("bidding vote - seed of the run id", () => {
  // The former definition: the last 8 characters once dashes are dropped, if hex; else a string hash.
  const reference = (runId: string): number => {
    const hex = runId.replace(/-/g, "").slice(-8);
    if (/^[0-9a-f]{8}$/i.test(hex)) return Number.parseInt(hex, 16);
    let h = 0;
    for (let i = 0; i < runId.length; i++) h = Math.imul(h, 31) + runId.charCodeAt(i);
    return h >>> 0;
  };

  it("is the last 32 bits of a UUID, and a hash of any other id, as before", () => {
    const ids = [
      RUN,
      RUN.toUpperCase(),
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
      "00000000-0000-0000-0000-000000000000",
      "0123456789abcdef",
      "ab-cd-ef-01-23",
      "abcd-ef0",
      "run-1",
      "decision-42",
      "xyz12345678",
      "12345678g",
      "g12345678",
      "",
      "--------",
      "1234-5678",
    ];
    for (const id of ids) expect(seedOf(id), id).toBe(reference(id));
  });
});

describe("bidding vote - campaigns it has not seen bid yet", () => {
  it("plans each campaign from its own settings, even under an id another catalog used for another campaign", () => {
    const catalog = (maxCpmMicros: bigint) =>
      demoInventory({
        campaigns: [
          create(CampaignSchema, {
            id: "same-id",
            goal: Goal.COMPLETIONS,
            budgetMicros: 10_000_000n,
            bidStrategy: { kind: BidStrategy_Kind.MAX_GOAL, maxCpmMicros },
          }),
        ],
        creatives: [
          create(CreativeSchema, { id: "cr1", campaignId: "same-id", format: AdFormat.AUDIO, durationMs: 15_000 }),
        ],
      });
    const vote = (inventory: Inventory) =>
      voteBidding({ runId: RUN, request: demoRequest(), inventory, nowMs: NOW, priorVotes: [] }, createBiddingState())
        .bidsMicros[0]!;
    const low = vote(catalog(5_000_000n));
    const high = vote(catalog(20_000_000n));
    // A new world's campaign under the same id and revision: its own max bid (4x) and value, not the first one's.
    expect(high).toBeGreaterThan(1.5 * low);
  });
});
