import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { UserProfile } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { DEFAULT_DIM } from "../../lib/features/feature-space.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { type IntentState, intentVector } from "./state.ts";
import { TargetingIndex } from "./targeting-index.ts";

/**
 * Intent's vote: the intent vector (context + taste, taste only with personalised-ads consent), a score per
 * candidate from its affinity with that vector, and a veto for every candidate the targeting rules or frequency
 * caps exclude (checkTargeting, compiled per inventory: TargetingIndex).
 */
export function voteIntent(ctx: VoteContext, state: IntentState): AgentVote {
  const { request, inventory, nowMs } = ctx;
  const userId = request.user?.userId ?? "";
  const profile = state.profiles.get(userId);
  const personalised = request.user?.consent?.personalizedAds === true;
  const c = request.context;
  const intent = momentIntent(personalised ? profile : undefined, c?.genre ?? "", c?.moodTags ?? []);
  // The vector is sparse (a handful of hashed features): the dot product skips its zeros.
  const active: number[] = [];
  for (let i = 0; i < intent.length; i++) if (intent[i] !== 0) active.push(i);
  const embeddings = inventory.arrays.embeddings;
  const dim = inventory.dim;
  const n = inventory.size;
  const scores = new Array<number>(n);
  for (let k = 0; k < n; k++) {
    let dot = 0;
    const row = k * dim;
    for (const i of active) dot += intent[i]! * embeddings[row + i]!;
    scores[k] = Math.min(1, Math.max(0, 0.5 + 0.5 * dot));
  }
  // Frequency caps use the profile even without personalisation consent: capping protects the listener.
  const vetoes = TargetingIndex.of(inventory).vetoes(request, profile, nowMs);
  const events = profile ? Object.values(profile.genreAffinity).length : 0;
  const vote = create(AgentVoteSchema, {
    confidence: personalised && profile ? Math.min(0.9, 0.4 + 0.1 * events) : 0.3,
    scores,
    intentVector: [...intent],
  });
  // Assigned, not passed to create(): the vetoes are messages already, and create() would copy the list.
  vote.vetoes = vetoes;
  return vote;
}

/** Context-only vectors (no profile) by genre and moods: few distinct values, so remembered. */
const contextVectors = new Map<string, Float32Array>();
const MAX_CONTEXT_VECTORS = 4_096;

/**
 * intentVector for this moment. With a profile whose pre-computed vector (state.ts applyPlayback, for the next
 * break) was made for the same genre and moods, that vector: the same features give the same embedding.
 */
function momentIntent(profile: UserProfile | undefined, genre: string, moods: readonly string[]): Float32Array {
  if (profile) {
    const ready =
      profile.intentVector.length === DEFAULT_DIM &&
      genre.toLowerCase() === profile.genre &&
      moods.length === profile.moodTags.length &&
      moods.every((m, i) => m.toLowerCase() === profile.moodTags[i]);
    return ready ? Float32Array.from(profile.intentVector) : intentVector(profile, genre, moods);
  }
  const key = `${genre}\u0000${moods.join("\u0000")}`;
  let v = contextVectors.get(key);
  if (!v) {
    if (contextVectors.size >= MAX_CONTEXT_VECTORS) contextVectors.clear();
    v = intentVector(undefined, genre, moods);
    contextVectors.set(key, v);
  }
  return v;
}
