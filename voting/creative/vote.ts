import { create } from "@bufbuild/protobuf";
import { type AgentVote, type CandidateVeto, CandidateVetoSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { AdFormat, AgeBracket } from "../../gen/chorus/v1/common_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { SCORING_LAYOUTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { VoteContext } from "../contract/agent-module.ts";
import { type AgentScoring, confidenceOf, newVote, referenceVote, scoresOf } from "../scoring/agent-scoring.ts";
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

/** A class's verdicts; shared by every vote with the same inputs, so nobody may modify them. */
interface CreativeVerdicts {
  /** 1 where a policy rejects the candidate. */
  rejected: Uint8Array;
  vetoes: CandidateVeto[];
  formats: number[];
}

/** Verdicts per inventory, by policy and request class; a bounded memo (cleared when full). */
const verdictsByInventory = new WeakMap<Inventory, Map<string, CreativeVerdicts>>();
const MAX_VERDICTS_PER_INVENTORY = 4_096;

/**
 * Creative's scoring (agent scoring ABI, wasm-core/assembly/agents/creative.ts): the format per candidate and a
 * veto with its reason for every policy rejection stay here; the module scores [rejected, format] (format
 * preference, 0 when rejected). checkCreative reads only the creative, its advertiser, the policy and a handful of
 * request fields (genre, age class, consent, playable formats, break length), so the verdicts are computed once
 * per inventory and class and every later vote of that class is a lookup.
 */
export const creativeScoring: AgentScoring<CreativeState, CreativeVerdicts> = {
  agent: "creative",
  layout: SCORING_LAYOUTS.creative,
  extract(ctx, state, input) {
    const verdicts = verdictsOf(ctx, state);
    const n = ctx.inventory.size;
    const f = input.features;
    for (let c = 0; c < n; c++) {
      f[c * 2] = verdicts.rejected[c]!;
      f[c * 2 + 1] = verdicts.formats[c]!;
    }
    return { n, carry: verdicts };
  },
  reference(n, { features: f, output }) {
    for (let c = 0; c < n; c++) output[1 + c] = f[c * 2] !== 0 ? 0 : (FORMAT_PREFERENCE[f[c * 2 + 1] as AdFormat] ?? 0);
    output[0] = 0.7;
  },
  finish(_ctx, _state, verdicts, n, out) {
    const vote = newVote();
    vote.confidence = confidenceOf(out);
    vote.scores = scoresOf(out, n);
    vote.formats = verdicts.formats;
    vote.vetoes = verdicts.vetoes;
    return vote;
  },
  goldenCases(seed) {
    const random = createSeededRandom(seed);
    return Array.from({ length: 12 }, (_, k) => {
      const n = k === 0 ? 0 : Math.floor(random() * 100);
      const features = new Float64Array(n * 2);
      for (let c = 0; c < n; c++) {
        features[c * 2] = random() < 0.3 ? 1 : 0;
        features[c * 2 + 1] = Math.floor(random() * 5);
      }
      return { n, context: new Float64Array(0), features };
    });
  },
};

/** Creative's vote with the built-in scoring (see creativeScoring). */
export function voteCreative(ctx: VoteContext, state: CreativeState): AgentVote {
  return referenceVote(creativeScoring, ctx, state);
}

function verdictsOf(ctx: VoteContext, state: CreativeState): CreativeVerdicts {
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
  return verdicts;
}

function judge(ctx: VoteContext, state: CreativeState, formats: ReadonlySet<AdFormat>): CreativeVerdicts {
  const candidates = ctx.inventory.candidates;
  const out: CreativeVerdicts = {
    rejected: new Uint8Array(candidates.length),
    vetoes: [],
    formats: new Array(candidates.length),
  };
  for (const c of candidates) {
    const rejection = checkCreative(c.creative, c.advertiser, ctx.request, state.blockedCategories, formats);
    if (rejection) out.vetoes.push(create(CandidateVetoSchema, { candidate: c.index, ...rejection }));
    out.rejected[c.index] = rejection ? 1 : 0;
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
