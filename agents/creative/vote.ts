import { create } from "@bufbuild/protobuf";
import {
  type AgentVote,
  AgentVoteSchema,
  type CandidateVeto,
  CandidateVetoSchema,
} from "../../gen/chorus/v1/agent_pb.ts";
import { AdFormat, AgeBracket } from "../../gen/chorus/v1/common_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
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

/** A vote's per-candidate arrays; shared by every vote with the same inputs, so nobody may modify them. */
interface CreativeVerdicts {
  scores: number[];
  vetoes: CandidateVeto[];
  formats: number[];
}

/** Verdicts per inventory, by policy and request class; a bounded memo (cleared when full). */
const verdictsByInventory = new WeakMap<Inventory, Map<string, CreativeVerdicts>>();
const MAX_VERDICTS_PER_INVENTORY = 4_096;

/**
 * Creative's vote: the format per candidate, a veto with its reason for every policy rejection, format scores.
 * checkCreative reads only the creative, its advertiser, the policy and a handful of request fields (genre, age
 * class, consent, playable formats, break length), so the verdicts are computed once per inventory and class and
 * every later vote of that class is a lookup.
 */
export function voteCreative(ctx: VoteContext, state: CreativeState): AgentVote {
  const formats = formatsForDevice(ctx.request);
  const key = `${verdictClass(ctx.request, formats)}#${[...state.blockedCategories].join("\u0000")}`;
  let memo = verdictsByInventory.get(ctx.inventory);
  if (!memo) {
    memo = new Map();
    verdictsByInventory.set(ctx.inventory, memo);
  }
  let verdicts = memo.get(key);
  if (!verdicts) {
    if (memo.size >= MAX_VERDICTS_PER_INVENTORY) memo.clear();
    verdicts = judge(ctx, state, formats);
    memo.set(key, verdicts);
  }
  const vote = create(AgentVoteSchema, { confidence: 0.7, scores: verdicts.scores, formats: verdicts.formats });
  // Assigned, not passed to create(): the vetoes are messages already, and create() would copy the list.
  vote.vetoes = verdicts.vetoes;
  return vote;
}

function judge(ctx: VoteContext, state: CreativeState, formats: ReadonlySet<AdFormat>): CreativeVerdicts {
  const candidates = ctx.inventory.candidates;
  const out: CreativeVerdicts = {
    scores: new Array(candidates.length),
    vetoes: [],
    formats: new Array(candidates.length),
  };
  for (const c of candidates) {
    const rejection = checkCreative(c.creative, c.advertiser, ctx.request, state.blockedCategories, formats);
    if (rejection) out.vetoes.push(create(CandidateVetoSchema, { candidate: c.index, ...rejection }));
    out.scores[c.index] = rejection ? 0 : FORMAT_PREFERENCE[c.creative.format];
    out.formats[c.index] = c.creative.format;
  }
  return out;
}

/** Every request field checkCreative reads, reduced to what changes its answer. */
function verdictClass(request: DecideRequest, formats: ReadonlySet<AdFormat>): string {
  const age = request.user?.ageBracket ?? AgeBracket.AGE_BRACKET_UNSPECIFIED;
  const adult = age !== AgeBracket.AGE_BRACKET_UNSPECIFIED && age !== AgeBracket.AGE_BRACKET_UNDER_18;
  let formatBits = 0;
  for (const f of formats) formatBits |= 1 << f;
  const genre = request.context?.genre.toLowerCase() ?? "";
  return `${adult ? 1 : 0}${request.user?.consent?.personalizedAds ? 1 : 0}|${formatBits}|${request.placement?.maxDurationMs ?? 0}|${genre}`;
}
