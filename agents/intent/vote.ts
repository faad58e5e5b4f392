import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema, CandidateVetoSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { type IntentState, intentVector } from "./state.ts";
import { checkTargeting } from "./targeting.ts";

/**
 * Intent's vote: the intent vector (context + taste, taste only with personalised-ads consent), a score per
 * candidate from its affinity with that vector, and a veto for every candidate the targeting rules or frequency
 * caps exclude.
 */
export function voteIntent(ctx: VoteContext, state: IntentState): AgentVote {
  const { request, inventory, nowMs } = ctx;
  const userId = request.user?.userId ?? "";
  const profile = state.profiles.get(userId);
  const personalised = request.user?.consent?.personalizedAds === true;
  const c = request.context;
  const intent = intentVector(personalised ? profile : undefined, c?.genre ?? "", c?.moodTags ?? []);
  const scores: number[] = [];
  const vetoes = [];
  for (const candidate of inventory.candidates) {
    let dot = 0;
    for (let i = 0; i < intent.length; i++) dot += intent[i]! * candidate.embedding[i]!;
    scores.push(Math.min(1, Math.max(0, 0.5 + 0.5 * dot)));
    // Frequency caps use the profile even without personalisation consent: capping protects the listener.
    const no = checkTargeting(candidate.campaign, request, profile, nowMs);
    if (no)
      vetoes.push(create(CandidateVetoSchema, { candidate: candidate.index, reason: no.reason, detail: no.detail }));
  }
  const events = profile ? Object.values(profile.genreAffinity).length : 0;
  return create(AgentVoteSchema, {
    confidence: personalised && profile ? Math.min(0.9, 0.4 + 0.1 * events) : 0.3,
    scores,
    vetoes,
    intentVector: [...intent],
  });
}
