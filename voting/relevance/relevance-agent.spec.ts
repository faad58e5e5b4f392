import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { applyEvent, applyOutcome, createRelevanceState } from "./state.ts";
import { voteRelevance } from "./vote.ts";

const inventory = demoInventory();
const NOW = Date.UTC(2026, 0, 1, 12);

describe("relevance - online learning from clicks", () => {
  it("raises the predicted response of an ad that gets clicked and lowers one that never is", () => {
    const clickAds = inventory.candidates.filter((c) => c.campaign.goal === Goal.CLICKS);
    const [liked, ignored] = [clickAds[0]!, clickAds.find((c) => c.campaign.id !== clickAds[0]!.campaign.id)!];
    const state = createRelevanceState();
    const ctx = { nowMs: NOW, inventory: () => inventory, owns: () => true };
    const vctx = { runId: "r", request: demoRequest(), inventory, nowMs: NOW, priorVotes: [] };
    const before = voteRelevance(vctx, state).predictedResponse;
    for (let i = 0; i < 300; i++) {
      for (const ad of [liked, ignored]) {
        const decisionId = `d${i}-${ad.index}`;
        applyOutcome(
          state,
          create(AuctionOutcomeSchema, {
            decisionId,
            request: demoRequest(),
            decidedAt: timestampFromMs(NOW),
            entries: [{ creativeId: ad.creative.id, won: true }],
          }),
          ctx,
        );
        const event = (type: AdEventType) =>
          create(LedgerEntrySchema, { event: { decisionId, creativeId: ad.creative.id, type } });
        applyEvent(state, event(AdEventType.IMPRESSION));
        if (ad === liked && i % 3 === 0) applyEvent(state, event(AdEventType.CLICK));
      }
    }
    const after = voteRelevance(vctx, state);
    expect(after.predictedResponse[liked.index]!).toBeGreaterThan(before[liked.index]! * 3);
    expect(after.predictedResponse[ignored.index]!).toBeLessThan(before[ignored.index]!);
    expect(after.scores[liked.index]!).toBeGreaterThan(after.scores[ignored.index]!);
    expect(after.confidence).toBeGreaterThan(voteRelevance(vctx, createRelevanceState()).confidence);
    // The model learns in place: a vote on the inventory it saw before learning scores like one on a fresh copy.
    expect(after.predictedResponse).toEqual(
      voteRelevance({ ...vctx, inventory: demoInventory() }, state).predictedResponse,
    );
  });
});
