import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { VOTING_AGENTS } from "../../lib/subjects.ts";
import { applyEvent, applyOutcome, BASE_WEIGHTS, createOrchestratorState, MAX_FACTOR, MAX_SHARE } from "./state.ts";
import { DEGRADED_WEIGHT_FACTOR, kernelWeights, voteOrchestrator } from "./vote.ts";

describe("orchestrator - weights adapt to outcomes within bounds", () => {
  it("credits the agent behind clicked ads, but no weight leaves its bounds or exceeds the share cap", () => {
    const state = createOrchestratorState();
    const agents = [...VOTING_AGENTS];
    for (let i = 0; i < 2_000; i++) {
      // Intent carries almost all of the winner's quality; every ad is clicked.
      const contributions = agents.map((a) => (a === "intent" ? 0.9 : 0.02));
      applyOutcome(
        state,
        create(AuctionOutcomeSchema, {
          decisionId: `d${i}`,
          agents,
          entries: [{ creativeId: "cr", won: true, contributions }],
        }),
      );
      applyEvent(
        state,
        create(LedgerEntrySchema, { event: { decisionId: `d${i}`, creativeId: "cr", type: AdEventType.CLICK } }),
      );
    }
    const w = state.weights;
    expect(w.intent!).toBeGreaterThan(BASE_WEIGHTS.intent);
    const total = agents.reduce((s, a) => s + w[a]!, 0);
    expect(w.intent! / total).toBeLessThanOrEqual(MAX_SHARE + 1e-9);
    for (const a of agents) expect(w[a]!).toBeLessThanOrEqual(BASE_WEIGHTS[a] * MAX_FACTOR + 1e-9);
  });

  it("a degraded agent's weight drops", () => {
    const vote = voteOrchestrator({} as never, createOrchestratorState());
    const { weights } = kernelWeights(vote, ["intent", "timing"], new Set(["timing"]));
    expect(weights[0]).toBeCloseTo(BASE_WEIGHTS.intent);
    expect(weights[1]).toBeCloseTo(BASE_WEIGHTS.timing * DEGRADED_WEIGHT_FACTOR);
  });
});
