import type { AgentVote } from "../../gen/chorus/v1/agent_pb.ts";
import { Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { SCORING_LAYOUTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { VoteContext } from "../contract/agent-module.ts";
import {
  type AgentScoring,
  confidenceOf,
  extrasOf,
  newVote,
  referenceVote,
  scoresOf,
} from "../scoring/agent-scoring.ts";
import { DEFAULT_FTRL, type FtrlModel, sigmoid, weight } from "./ftrl-model.ts";
import { type CandidateFeatures, candidateFeatures, momentFeatureSlots, priorLogit } from "./relevance-features.ts";
import type { RelevanceState } from "./state.ts";

/** Candidates outside the top K by predicted response get score 0 (the shortlist). */
export const SHORTLIST_K = 32;

/**
 * Relevance's scoring (agent scoring ABI, wasm-core/assembly/agents/relevance.ts): the predicted response per
 * candidate (1 for impression goals), and scores = the predicted response relative to the best candidate of the
 * same goal, kept for the top K only.
 *
 * `extract` sums the logit: the model's weights over responseFeatures (relevance-features.ts), in that order.
 * The candidate-only part (bias, creative, campaign) is summed once per (inventory, model); the features that
 * cross a candidate attribute with the moment are hashed once per distinct attribute value per decision, not
 * per candidate. The module gets [logit, prior logit of the goal, goal, impressions] per candidate.
 */
export const relevanceScoring: AgentScoring<RelevanceState, undefined> = {
  agent: "relevance",
  layout: SCORING_LAYOUTS.relevance,
  extraRange: [0, 1],
  extract(ctx, state, input) {
    const { request, inventory, nowMs } = ctx;
    const table = candidateTable(inventory, state.model, state.examples);
    // Keyed by the inventory's features (not the per-model table): the moment's slots do not depend on the model.
    const moment = momentFeatureSlots(request, nowMs, candidateFeatures(inventory));
    // The weights are read on every vote: the model learns in place.
    const catGenre = weightsOf(state.model, moment.categoryGenre, 0);
    const formatDevice = weightsOf(state.model, moment.formatDevice, 1);
    const catDaypart = weightsOf(state.model, moment.categoryDaypart, 2);
    const goalGenre = weightsOf(state.model, moment.goalGenre, 3);
    const n = inventory.size;
    const f = input.features;
    for (let c = 0; c < n; c++) {
      const goal = table.goal[c]!;
      const row = c * 4;
      const impressions = goal === Goal.IMPRESSIONS;
      f[row] = impressions
        ? 0
        : table.staticLogit[c]! +
          catGenre[table.category[c]!]! +
          formatDevice[table.format[c]!]! +
          catDaypart[table.category[c]!]! +
          goalGenre[table.goalIndex[c]!]!;
      f[row + 1] = impressions ? 0 : priorLogit(goal);
      f[row + 2] = goal;
      f[row + 3] = impressions ? 1 : 0;
    }
    input.context[0] = Number(state.examples);
    return { n, carry: undefined };
  },
  reference(n, { context, features: f, output }, capacity) {
    const best = bestScratch;
    best.clear();
    for (let c = 0; c < n; c++) {
      const goal = f[c * 4 + 2]!;
      const p = f[c * 4 + 3] !== 0 ? 1 : sigmoid(f[c * 4]! + f[c * 4 + 1]!);
      output[1 + capacity + c] = p;
      best.set(goal, Math.max(best.get(goal) ?? 0, p));
    }
    if (relativeScratch.length < n) {
      relativeScratch = new Float64Array(n);
      selectScratch = new Float64Array(n);
    }
    const relative = relativeScratch;
    for (let c = 0; c < n; c++) relative[c] = output[1 + capacity + c]! / (best.get(f[c * 4 + 2]!) || 1);
    let cutoff = 0;
    if (n >= SHORTLIST_K) {
      const select = selectScratch.subarray(0, n);
      select.set(relative.subarray(0, n));
      cutoff = kthLargest(select, SHORTLIST_K);
    }
    for (let c = 0; c < n; c++) output[1 + c] = relative[c]! >= cutoff ? relative[c]! : 0;
    output[0] = Math.min(0.9, 0.3 + context[0]! / 2000);
  },
  finish(_ctx, _state, _carry, n, out) {
    const vote = newVote();
    vote.confidence = confidenceOf(out);
    vote.scores = scoresOf(out, n);
    vote.predictedResponse = extrasOf(out, n);
    return vote;
  },
  goldenCases(seed) {
    const random = createSeededRandom(seed);
    return Array.from({ length: 12 }, (_, k) => {
      const n = k === 0 ? 0 : k === 1 ? 1 : Math.floor(random() * 200);
      const features = new Float64Array(n * 4);
      for (let c = 0; c < n; c++) {
        const goal = 1 + Math.floor(random() * 4);
        features[c * 4] = goal === Goal.IMPRESSIONS ? 0 : (random() - 0.5) * 8;
        features[c * 4 + 1] = goal === Goal.IMPRESSIONS ? 0 : -1 - random() * 6;
        features[c * 4 + 2] = goal;
        features[c * 4 + 3] = goal === Goal.IMPRESSIONS ? 1 : 0;
      }
      return { n, context: Float64Array.of(Math.floor(random() * 5_000)), features };
    });
  },
};

/** Relevance's vote with the built-in scoring (see relevanceScoring). */
export function voteRelevance(ctx: VoteContext, state: RelevanceState): AgentVote {
  return referenceVote(relevanceScoring, ctx, state);
}

/** reference's scratch (a call is synchronous): the best response per goal, the relative ones, their copy to select in. */
const bestScratch = new Map<number, number>();
let relativeScratch = new Float64Array(0);
let selectScratch = new Float64Array(0);

/** extract's weights of the moment's slots, one buffer per kind (a vote is synchronous; read within the vote). */
const weightScratch: Float64Array[] = [
  new Float64Array(0),
  new Float64Array(0),
  new Float64Array(0),
  new Float64Array(0),
];

function weightsOf(model: FtrlModel, slots: readonly number[], kind: number): Float64Array {
  let out = weightScratch[kind]!;
  if (out.length < slots.length) {
    out = new Float64Array(slots.length);
    weightScratch[kind] = out;
  }
  for (let i = 0; i < slots.length; i++) out[i] = weight(model, slots[i]!, DEFAULT_FTRL);
  return out;
}

/** The candidates' features with the sum of their candidate-only weights under one model. */
interface CandidateTable extends CandidateFeatures {
  staticLogit: Float64Array;
  /** The model's example count when staticLogit was summed: the model learns in place, so a new count is stale. */
  examples: bigint;
}

const tables = new WeakMap<Inventory, WeakMap<FtrlModel, CandidateTable>>();

function candidateTable(inventory: Inventory, model: FtrlModel, examples: bigint): CandidateTable {
  let byModel = tables.get(inventory);
  if (!byModel) {
    byModel = new WeakMap();
    tables.set(inventory, byModel);
  }
  let table = byModel.get(model);
  if (!table) {
    table = { ...candidateFeatures(inventory), staticLogit: new Float64Array(inventory.size), examples: -1n };
    byModel.set(model, table);
  }
  if (table.examples !== examples) {
    // Summed again after the model learned: an inventory kept for long (a retrieval slice reused across
    // decisions) would otherwise score with the weights of the moment it was first seen.
    for (let c = 0; c < inventory.size; c++) {
      let s = 0;
      for (const slot of table.staticSlots[c]!) s += weight(model, slot, DEFAULT_FTRL);
      table.staticLogit[c] = s;
    }
    table.examples = examples;
  }
  return table;
}

/** The k-th largest value (k >= 1) of `a`, which it reorders: quickselect (Hoare partition), O(n) on average. */
function kthLargest(a: Float64Array, k: number): number {
  const target = k - 1;
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target]!;
  }
  return a[target]!;
}
