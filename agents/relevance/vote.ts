import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { logit, sigmoid } from "./ftrl-model.ts";
import { priorLogit, responseFeatures } from "./relevance-features.ts";
import type { RelevanceState } from "./state.ts";

/** Candidates outside the top K by predicted response get score 0 (the shortlist). */
export const SHORTLIST_K = 32;

/**
 * Relevance's vote: the predicted response per candidate (1 for impression goals), and scores = the predicted
 * response relative to the best candidate of the same goal, kept for the top K only.
 */
export function voteRelevance(ctx: VoteContext, state: RelevanceState): AgentVote {
  const { request, inventory, nowMs } = ctx;
  const predicted: number[] = [];
  const best = new Map<Goal, number>();
  for (const c of inventory.candidates) {
    const goal = c.campaign.goal;
    const p =
      goal === Goal.IMPRESSIONS
        ? 1
        : sigmoid(logit(state.model, responseFeatures(request, c, nowMs)) + priorLogit(goal));
    predicted.push(p);
    best.set(goal, Math.max(best.get(goal) ?? 0, p));
  }
  const relative = inventory.candidates.map((c, i) => predicted[i]! / (best.get(c.campaign.goal) || 1));
  const cutoff = [...relative].sort((a, b) => b - a)[SHORTLIST_K - 1] ?? 0;
  const scores = relative.map((r) => (r >= cutoff ? r : 0));
  const learned = Number(state.examples);
  return create(AgentVoteSchema, {
    confidence: Math.min(0.9, 0.3 + learned / 2000),
    scores,
    predictedResponse: predicted,
  });
}
