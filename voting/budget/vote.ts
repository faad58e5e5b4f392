import { create } from "@bufbuild/protobuf";
import { type AgentVote, type CandidateVeto, CandidateVetoSchema, VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import type { CampaignBudget } from "../../gen/chorus/v1/ledger_pb.ts";
import { campaignSlots } from "../../lib/catalog/campaign-slots.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { SCORING_LAYOUTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { VoteContext } from "../contract/agent-module.ts";
import { type AgentScoring, confidenceOf, newVote, referenceVote, scoresOf } from "../scoring/agent-scoring.ts";
import type { BudgetState } from "./state.ts";

/**
 * Budget's scoring (agent scoring ABI, wasm-core/assembly/agents/budget.ts). The vetoes stay here: campaigns
 * that are spent (BUDGET_EXHAUSTED) and, with the throttle probability of their pacing, those ahead of plan
 * (BUDGET_THROTTLED; the draw hashes run id and campaign, so the vote stays pure and every mode agrees). The
 * module scores [known, pace ratio] per candidate, favouring campaigns behind plan; a campaign the agent does
 * not know gets no opinion, and confidence 0 (no known campaign at all) means no scores.
 */
export const budgetScoring: AgentScoring<BudgetState, CandidateVeto[]> = {
  agent: "budget",
  layout: SCORING_LAYOUTS.budget,
  extract(ctx, state, input) {
    const vetoes: CandidateVeto[] = [];
    const candidates = ctx.inventory.candidates;
    const { campaigns, slotOf } = campaignSlots(ctx.inventory);
    // Per campaign, not per candidate: its budget and its throttle draw (the same for all its creatives).
    const budgets = scratchBudgets(campaigns.length);
    const throttled = scratchThrottled(campaigns.length);
    const runHash = fnvOf(FNV_OFFSET, ctx.runId, "|");
    for (let s = 0; s < campaigns.length; s++) {
      const budget = state.campaigns.get(campaigns[s]!.id);
      budgets[s] = budget;
      throttled[s] =
        budget !== undefined &&
        !(budget.exhausted || !budget.serving) &&
        budget.throttleProbability > 0 &&
        drawAfter(runHash, campaigns[s]!.id) < budget.throttleProbability
          ? 1
          : 0;
    }
    const f = input.features;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      const slot = slotOf[candidate.index]!;
      const budget = budgets[slot];
      f[i * 2] = budget ? 1 : 0;
      f[i * 2 + 1] = budget ? budget.paceRatio : 0;
      if (!budget) continue;
      if (budget.exhausted || !budget.serving) vetoes.push(vetoOf(budget, candidate.index, false));
      else if (throttled[slot] === 1) vetoes.push(vetoOf(budget, candidate.index, true));
    }
    budgets.fill(undefined); // no reference to a state's entries kept past the vote
    return { n: candidates.length, carry: vetoes };
  },
  reference(n, { features, output }) {
    let known = 0;
    for (let c = 0; c < n; c++) {
      if (features[c * 2] === 0) {
        output[1 + c] = 0.5;
        continue;
      }
      known++;
      output[1 + c] = Math.min(1, Math.max(0, 0.5 + (1 - features[c * 2 + 1]!) / 2));
    }
    output[0] = known === 0 ? 0 : known / Math.max(1, n);
  },
  finish(_ctx, _state, vetoes, n, out) {
    const confidence = confidenceOf(out);
    const vote = newVote();
    vote.confidence = confidence;
    if (confidence !== 0) vote.scores = scoresOf(out, n);
    vote.vetoes = vetoes;
    return vote;
  },
  goldenCases(seed) {
    const random = createSeededRandom(seed);
    return Array.from({ length: 12 }, (_, k) => {
      const n = k === 0 ? 0 : Math.floor(random() * 100);
      const features = new Float64Array(n * 2);
      for (let c = 0; c < n; c++) {
        features[c * 2] = k === 1 || random() < 0.3 ? 0 : 1;
        features[c * 2 + 1] = features[c * 2] === 0 ? 0 : random() * 3;
      }
      return { n, context: new Float64Array(0), features };
    });
  },
};

/** Budget's vote with the built-in scoring (see budgetScoring). */
export function voteBudget(ctx: VoteContext, state: BudgetState): AgentVote {
  return referenceVote(budgetScoring, ctx, state);
}

const FNV_OFFSET = 0x811c9dc5;

/** FNV-1a of `text` then `suffix`, continuing from hash `h`. */
function fnvOf(h: number, text: string, suffix = ""): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  for (let i = 0; i < suffix.length; i++) h = Math.imul(h ^ suffix.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * A uniform draw in [0, 1) from the run id and campaign: FNV-1a of `${runId}|${campaignId}`. FNV reads the text
 * in order, so the run id's part (`runHash`, fnvOf(FNV_OFFSET, runId, "|")) is hashed once per vote, not per
 * campaign, and no string is built.
 */
function drawAfter(runHash: number, campaignId: string): number {
  return (fnvOf(runHash, campaignId) >>> 0) / 4294967296;
}

/**
 * The veto messages of a campaign's budget entry, by candidate index and kind: their content depends on nothing
 * else (the detail formats the entry's pace), and an entry is replaced, never modified, when a new signal or the
 * agent's refresh brings new figures (state.ts restoreBudget, refreshBudget). Shared by every vote that vetoes the
 * candidate for that entry, like Creative's verdicts: nobody may modify them. Formatting the pace and creating a
 * message per vetoed candidate per vote was a third of Budget's vote.
 */
const vetoesByBudget = new WeakMap<CampaignBudget, CandidateVeto[][]>();

function vetoOf(budget: CampaignBudget, candidate: number, throttled: boolean): CandidateVeto {
  let byKind = vetoesByBudget.get(budget);
  if (!byKind) {
    byKind = [[], []];
    vetoesByBudget.set(budget, byKind);
  }
  const kind = byKind[throttled ? 1 : 0]!;
  let veto = kind[candidate];
  if (!veto) {
    veto = throttled
      ? create(CandidateVetoSchema, {
          candidate,
          reason: VetoReason.BUDGET_THROTTLED,
          detail: `budget: ahead of plan (pace ${budget.paceRatio.toFixed(2)}), throttled`,
        })
      : create(CandidateVetoSchema, {
          candidate,
          reason: VetoReason.BUDGET_EXHAUSTED,
          detail: budget.serving ? "budget: spent (less than one ad left)" : "budget: campaign not serving now",
        });
    kind[candidate] = veto;
  }
  return veto;
}

/** Per-vote scratch, by campaign slot (a vote is synchronous: one at a time). */
let budgetsScratch: (CampaignBudget | undefined)[] = [];
let throttledScratch = new Uint8Array(0);
function scratchBudgets(n: number): (CampaignBudget | undefined)[] {
  if (budgetsScratch.length < n) budgetsScratch = new Array(n).fill(undefined);
  return budgetsScratch;
}
function scratchThrottled(n: number): Uint8Array {
  if (throttledScratch.length < n) throttledScratch = new Uint8Array(n);
  return throttledScratch;
}
