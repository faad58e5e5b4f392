import { create } from "@bufbuild/protobuf";
import {
  type AgentVote,
  AgentVoteSchema,
  type CandidateVeto,
  CandidateVetoSchema,
  VetoReason,
} from "../../gen/chorus/v1/agent_pb.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { SCORING_LAYOUTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { type AgentScoring, confidenceOf, referenceVote, scoresOf } from "../runtime/agent-scoring.ts";
import type { BudgetState } from "./state.ts";

/**
 * Budget's scoring (agent scoring ABI, wasm-core/assembly/agents/budget.ts). The vetoes stay here: campaigns
 * that are spent (BUDGET_EXHAUSTED) and, with the throttle probability of their pacing, those ahead of plan
 * (BUDGET_THROTTLED; the draw hashes run id and campaign, so the vote stays pure and every mode agrees). The
 * module scores [known, pace ratio] per candidate, favouring campaigns behind plan; a campaign the agent does
 * not know gets no opinion, and confidence 0 (no known campaign at all) means no scores.
 */
export const budgetScoring: AgentScoring<BudgetState, CandidateVeto[]> = {
  agent: "budget",
  layout: SCORING_LAYOUTS.budget,
  extract(ctx, state, input) {
    const vetoes: CandidateVeto[] = [];
    const candidates = ctx.inventory.candidates;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      const budget = state.campaigns.get(candidate.campaign.id);
      input.features[i * 2] = budget ? 1 : 0;
      input.features[i * 2 + 1] = budget ? budget.paceRatio : 0;
      if (!budget) continue;
      if (budget.exhausted || !budget.serving)
        vetoes.push(
          create(CandidateVetoSchema, {
            candidate: candidate.index,
            reason: VetoReason.BUDGET_EXHAUSTED,
            detail: budget.serving ? "budget: spent (less than one ad left)" : "budget: campaign not serving now",
          }),
        );
      else if (budget.throttleProbability > 0 && draw(ctx.runId, candidate.campaign.id) < budget.throttleProbability)
        vetoes.push(
          create(CandidateVetoSchema, {
            candidate: candidate.index,
            reason: VetoReason.BUDGET_THROTTLED,
            detail: `budget: ahead of plan (pace ${budget.paceRatio.toFixed(2)}), throttled`,
          }),
        );
    }
    return { n: candidates.length, carry: vetoes };
  },
  reference(n, { features, output }) {
    let known = 0;
    for (let c = 0; c < n; c++) {
      if (features[c * 2] === 0) {
        output[1 + c] = 0.5;
        continue;
      }
      known++;
      output[1 + c] = Math.min(1, Math.max(0, 0.5 + (1 - features[c * 2 + 1]!) / 2));
    }
    output[0] = known === 0 ? 0 : known / Math.max(1, n);
  },
  finish(_ctx, _state, vetoes, n, out) {
    const confidence = confidenceOf(out);
    return create(AgentVoteSchema, { confidence, scores: confidence === 0 ? [] : scoresOf(out, n), vetoes });
  },
  goldenCases(seed) {
    const random = createSeededRandom(seed);
    return Array.from({ length: 12 }, (_, k) => {
      const n = k === 0 ? 0 : Math.floor(random() * 100);
      const features = new Float64Array(n * 2);
      for (let c = 0; c < n; c++) {
        features[c * 2] = k === 1 || random() < 0.3 ? 0 : 1;
        features[c * 2 + 1] = features[c * 2] === 0 ? 0 : random() * 3;
      }
      return { n, context: new Float64Array(0), features };
    });
  },
};

/** Budget's vote with the built-in scoring (see budgetScoring). */
export function voteBudget(ctx: VoteContext, state: BudgetState): AgentVote {
  return referenceVote(budgetScoring, ctx, state);
}

/** A uniform draw in [0, 1) from the run id and campaign (FNV-1a). */
function draw(runId: string, campaignId: string): number {
  let h = 0x811c9dc5;
  const text = `${runId}|${campaignId}`;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 4294967296;
}
