import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { DEFAULT_FTRL, type FtrlModel, sigmoid, weight } from "./ftrl-model.ts";
import { type CandidateFeatures, candidateFeatures, momentFeatureSlots, priorLogit } from "./relevance-features.ts";
import type { RelevanceState } from "./state.ts";

/** Candidates outside the top K by predicted response get score 0 (the shortlist). */
export const SHORTLIST_K = 32;

/**
 * Relevance's vote: the predicted response per candidate (1 for impression goals), and scores = the predicted
 * response relative to the best candidate of the same goal, kept for the top K only.
 *
 * The logit is the sum of the model's weights over responseFeatures (relevance-features.ts), in that order. The
 * candidate-only part (bias, creative, campaign) is summed once per (inventory, model); the features that cross a
 * candidate attribute with the moment are hashed once per distinct attribute value per decision, not per candidate.
 */
export function voteRelevance(ctx: VoteContext, state: RelevanceState): AgentVote {
  const { request, inventory, nowMs } = ctx;
  const table = candidateTable(inventory, state.model);
  const moment = momentFeatureSlots(request, nowMs, table);
  const w = (slot: number) => weight(state.model, slot, DEFAULT_FTRL);
  const catGenre = moment.categoryGenre.map(w);
  const formatDevice = moment.formatDevice.map(w);
  const catDaypart = moment.categoryDaypart.map(w);
  const goalGenre = moment.goalGenre.map(w);
  const n = inventory.size;
  const predicted = new Array<number>(n);
  const best = new Map<Goal, number>();
  for (let c = 0; c < n; c++) {
    const goal = table.goal[c]!;
    let p = 1;
    if (goal !== Goal.IMPRESSIONS) {
      const logit =
        table.staticLogit[c]! +
        catGenre[table.category[c]!]! +
        formatDevice[table.format[c]!]! +
        catDaypart[table.category[c]!]! +
        goalGenre[table.goalIndex[c]!]!;
      p = sigmoid(logit + priorLogit(goal));
    }
    predicted[c] = p;
    best.set(goal, Math.max(best.get(goal) ?? 0, p));
  }
  const relative = new Float64Array(n);
  for (let c = 0; c < n; c++) relative[c] = predicted[c]! / (best.get(table.goal[c]!) || 1);
  const cutoff = n >= SHORTLIST_K ? kthLargest(relative.slice(), SHORTLIST_K) : 0;
  const scores = new Array<number>(n);
  for (let c = 0; c < n; c++) scores[c] = relative[c]! >= cutoff ? relative[c]! : 0;
  const learned = Number(state.examples);
  return create(AgentVoteSchema, {
    confidence: Math.min(0.9, 0.3 + learned / 2000),
    scores,
    predictedResponse: predicted,
  });
}

/** The candidates' features with the sum of their candidate-only weights under one model. */
interface CandidateTable extends CandidateFeatures {
  staticLogit: Float64Array;
}

const tables = new WeakMap<Inventory, WeakMap<FtrlModel, CandidateTable>>();

function candidateTable(inventory: Inventory, model: FtrlModel): CandidateTable {
  let byModel = tables.get(inventory);
  if (!byModel) {
    byModel = new WeakMap();
    tables.set(inventory, byModel);
  }
  let table = byModel.get(model);
  if (!table) {
    const names = candidateFeatures(inventory);
    const n = inventory.size;
    const staticLogit = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      let s = 0;
      for (const slot of names.staticSlots[c]!) s += weight(model, slot, DEFAULT_FTRL);
      staticLogit[c] = s;
    }
    table = { ...names, staticLogit };
    byModel.set(model, table);
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
