import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema, CandidateVetoSchema, VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import type { BudgetState } from "./state.ts";

/**
 * Budget vote: vetoes campaigns that are spent (BUDGET_EXHAUSTED) and, with the throttle probability of their
 * pacing, those ahead of plan (BUDGET_THROTTLED; the draw hashes run id and campaign, so the vote stays pure and
 * every mode agrees). Scores favour campaigns behind plan. A campaign the agent does not know gets no opinion.
 */
export function voteBudget(ctx: VoteContext, state: BudgetState): AgentVote {
  const scores: number[] = [];
  const vetoes = [];
  let known = 0;
  for (const candidate of ctx.inventory.candidates) {
    const budget = state.campaigns.get(candidate.campaign.id);
    if (!budget) {
      scores.push(0.5);
      continue;
    }
    known++;
    scores.push(Math.min(1, Math.max(0, 0.5 + (1 - budget.paceRatio) / 2)));
    if (budget.exhausted || !budget.serving)
      vetoes.push(
        create(CandidateVetoSchema, {
          candidate: candidate.index,
          reason: VetoReason.BUDGET_EXHAUSTED,
          detail: budget.serving ? "budget: spent or fully reserved" : "budget: campaign not serving now",
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
  return create(AgentVoteSchema, {
    confidence: known === 0 ? 0 : known / Math.max(1, ctx.inventory.candidates.length),
    scores: known === 0 ? [] : scores,
    vetoes,
  });
}

/** A uniform draw in [0, 1) from the run id and campaign (FNV-1a). */
function draw(runId: string, campaignId: string): number {
  let h = 0x811c9dc5;
  const text = `${runId}|${campaignId}`;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 4294967296;
}
