import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema, CandidateVetoSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { checkCreative, formatsForDevice } from "./creative-policy.ts";
import type { CreativeState } from "./state.ts";

/** How much a format is worth when it can play: richer formats first (the "premium format" preference). */
const FORMAT_PREFERENCE: Record<AdFormat, number> = {
  [AdFormat.UNSPECIFIED]: 0,
  [AdFormat.AUDIO]: 0.6,
  [AdFormat.DISPLAY]: 0.7,
  [AdFormat.VIDEO]: 0.9,
  [AdFormat.INTERACTIVE]: 1,
};

/** Creative's vote: the format per candidate, a veto with its reason for every policy rejection, format scores. */
export function voteCreative(ctx: VoteContext, state: CreativeState): AgentVote {
  const formats = formatsForDevice(ctx.request);
  const scores: number[] = [];
  const chosen: number[] = [];
  const vetoes = [];
  for (const c of ctx.inventory.candidates) {
    const rejection = checkCreative(c.creative, c.advertiser, ctx.request, state.blockedCategories, formats);
    if (rejection) vetoes.push(create(CandidateVetoSchema, { candidate: c.index, ...rejection }));
    scores.push(rejection ? 0 : FORMAT_PREFERENCE[c.creative.format]);
    chosen.push(c.creative.format);
  }
  return create(AgentVoteSchema, { confidence: 0.7, scores, vetoes, formats: chosen });
}
