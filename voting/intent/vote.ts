import type { AgentVote, CandidateVeto } from "../../gen/chorus/v1/agent_pb.ts";
import type { UserProfile } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { DEFAULT_DIM } from "../../lib/features/feature-space.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { SCORING_LAYOUTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { VoteContext } from "../contract/agent-module.ts";
import { type AgentScoring, confidenceOf, newVote, referenceVote, scoresOf } from "../scoring/agent-scoring.ts";
import { type IntentState, intentVector } from "./state.ts";
import { TargetingIndex } from "./targeting-index.ts";

/** What finish needs besides the module's output. */
interface IntentCarry {
  intent: Float32Array;
  vetoes: CandidateVeto[];
}

/**
 * Intent's scoring (agent scoring ABI, wasm-core/assembly/agents/intent.ts): the intent vector (context + taste,
 * taste only with personalised-ads consent) and a veto for every candidate the targeting rules or frequency caps
 * exclude (checkTargeting, compiled per inventory: TargetingIndex) stay here; the module scores each candidate
 * from its affinity with that vector (context: personalised, profile events, the vector; features: embeddings).
 */
export const intentScoring: AgentScoring<IntentState, IntentCarry> = {
  agent: "intent",
  layout: SCORING_LAYOUTS.intent,
  extract(ctx, state, input) {
    const { request, inventory, nowMs } = ctx;
    const userId = request.user?.userId ?? "";
    const profile = state.profiles.get(userId);
    const personalised = request.user?.consent?.personalizedAds === true;
    const c = request.context;
    const intent = momentIntent(personalised ? profile : undefined, c?.genre ?? "", c?.moodTags ?? []);
    const events = profile ? countKeys(profile.genreAffinity) : 0;
    input.context[0] = personalised && profile ? 1 : 0;
    input.context[1] = events;
    input.context.set(intent, 2);
    const n = inventory.size;
    const embeddings = inventory.arrays.embeddings;
    if (inventory.dim === DEFAULT_DIM) input.features.set(embeddings.subarray(0, n * DEFAULT_DIM));
    // The intent vector has DEFAULT_DIM dimensions: a row's first DEFAULT_DIM values, zero-padded, meet it.
    else
      for (let k = 0; k < n; k++)
        for (let i = 0; i < DEFAULT_DIM; i++)
          input.features[k * DEFAULT_DIM + i] = i < inventory.dim ? embeddings[k * inventory.dim + i]! : 0;
    // Frequency caps use the profile even without personalisation consent: capping protects the listener.
    const vetoes = TargetingIndex.of(inventory).vetoes(request, profile, nowMs);
    return { n, carry: { intent, vetoes } };
  },
  reference(n, { context, features, output }) {
    const dim = DEFAULT_DIM;
    // The vector is sparse (a handful of hashed features): the dot product skips its zeros.
    const active: number[] = [];
    for (let i = 0; i < dim; i++) if (context[2 + i] !== 0) active.push(i);
    for (let k = 0; k < n; k++) {
      let dot = 0;
      const row = k * dim;
      for (const i of active) dot += context[2 + i]! * features[row + i]!;
      output[1 + k] = Math.min(1, Math.max(0, 0.5 + 0.5 * dot));
    }
    output[0] = context[0] !== 0 ? Math.min(0.9, 0.4 + 0.1 * context[1]!) : 0.3;
  },
  finish(_ctx, _state, { intent, vetoes }, n, out) {
    const vote = newVote();
    vote.confidence = confidenceOf(out);
    vote.scores = scoresOf(out, n);
    // A loop, not [...intent]: spreading a typed array goes through its iterator.
    const vector = new Array<number>(intent.length);
    for (let i = 0; i < intent.length; i++) vector[i] = intent[i]!;
    vote.intentVector = vector;
    vote.vetoes = vetoes;
    return vote;
  },
  goldenCases(seed) {
    const random = createSeededRandom(seed);
    return Array.from({ length: 12 }, (_, k) => {
      const n = k === 0 ? 0 : Math.floor(random() * 100);
      const context = new Float64Array(2 + DEFAULT_DIM);
      context[0] = k % 2;
      context[1] = Math.floor(random() * 20);
      // A handful of hashed features, as intentVector makes them.
      for (let j = 0; j < 6; j++) context[2 + Math.floor(random() * DEFAULT_DIM)] = Math.fround(random() * 2 - 1);
      const features = Float64Array.from({ length: n * DEFAULT_DIM }, () => Math.fround((random() * 2 - 1) / 4));
      return { n, context, features };
    });
  },
};

/** Intent's vote with the built-in scoring (see intentScoring). */
export function voteIntent(ctx: VoteContext, state: IntentState): AgentVote {
  return referenceVote(intentScoring, ctx, state);
}

/** Object.values(map).length without the array (a protobuf map is a plain object with own keys only). */
function countKeys(map: { readonly [key: string]: unknown }): number {
  let count = 0;
  for (const _ in map) count++;
  return count;
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
    let ready =
      profile.intentVector.length === DEFAULT_DIM &&
      genre.toLowerCase() === profile.genre &&
      moods.length === profile.moodTags.length;
    for (let i = 0; ready && i < moods.length; i++) ready = moods[i]!.toLowerCase() === profile.moodTags[i];
    return ready ? new Float32Array(profile.intentVector) : intentVector(profile, genre, moods);
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
