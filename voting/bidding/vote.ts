import type { AgentVote } from "../../gen/chorus/v1/agent_pb.ts";
import { BidStrategy_Kind, type Campaign } from "../../gen/chorus/v1/campaign_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import { campaignSlots } from "../../lib/catalog/campaign-slots.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { SCORING_LAYOUTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { VoteContext } from "../contract/agent-module.ts";
import { priorRate } from "../relevance/relevance-features.ts";
import { type AgentScoring, confidenceOf, extrasOf, newVote, referenceVote } from "../scoring/agent-scoring.ts";
import { budgetPeriod, DAY_MS } from "./budget-period.ts";
import { type BudgetPace, pacingMultiplier, usableResponse } from "./decide-bid.ts";
import { type BiddingPlan, planBidding } from "./plan-bidding.ts";
import { createSeededRandom } from "./seeded-random.ts";
import { type BiddingState, campaignPlan, contextKey, newCampaignBidder } from "./state.ts";
import {
  createValueCalibration,
  meanMultiplier,
  sampleMultiplier,
  type ValueCalibration,
} from "./value-calibration.ts";

/** Auctions a campaign is assumed to see per day before the agent has measured it. */
const DEFAULT_DAILY_OPPORTUNITIES = 10_000;
/** The opportunity rate is measured over at least this much of the period (a first auction is not a rate). */
const MIN_ELAPSED_MS = 60_000;

/**
 * The campaign's budget pace in its budget period (budget-period.ts: the flight, or the day for a daily budget):
 * what is left of the period's budget, and the auctions expected before the period ends at the rate measured so
 * far. A campaign behind plan has more budget per auction left than the market takes at its current bids, and the
 * pacing multiplier rises (up to the max bid); one ahead of plan has less, and it falls.
 */
export function budgetPace(campaign: Campaign, spentMicros: number, opportunities: number, nowMs: number): BudgetPace {
  const period = budgetPeriod(campaign, nowMs);
  const elapsed = Math.max(MIN_ELAPSED_MS, nowMs - period.startMs);
  const perMs = opportunities > 0 ? opportunities / elapsed : DEFAULT_DAILY_OPPORTUNITIES / DAY_MS;
  return {
    budgetLeftMicros: Math.max(0, period.budgetMicros - spentMicros),
    opportunitiesLeft: Math.max(1, perMs * Math.max(0, period.endMs - nowMs)),
  };
}

/**
 * Bidding's scoring (agent scoring ABI, wasm-core/assembly/agents/bidding.ts): a bid per response unit per
 * candidate (voting/bidding/README.md: pacing multiplier x calibrated value, Thompson-sampled context multiplier,
 * capped by max bid and budget left). Here: the draws, seeded by the run id (so the vote is a pure function of
 * (context, state) and a replay reproduces it), the pacing solutions and the caps; the module computes the bids
 * from [response, value per response, context multiplier, pacing, cap]. The predicted response is Relevance's
 * when it voted before (sequential), else the goal's prior rate.
 *
 * Per decision, the work is per campaign, not per candidate: one Thompson draw of the context multiplier per
 * campaign (the campaign's creatives share its context calibration), and the pacing multiplier solved once per
 * (plan, pace, response) and reused across decisions: the pace is read on a one-second clock, so within a second
 * and until the campaign's plan changes the solution is a lookup.
 */
export const biddingScoring: AgentScoring<BiddingState, undefined> = {
  agent: "bidding",
  layout: SCORING_LAYOUTS.bidding,
  extraRange: [0, Number.MAX_VALUE],
  extract(ctx, state, input) {
    const { request, inventory } = ctx;
    const seed = seedOf(ctx.runId);
    const relevance = relevanceResponses(ctx.priorVotes);
    const key = contextKeyOf(request);
    const nowMs = Math.floor(ctx.nowMs / PACE_CLOCK_MS) * PACE_CLOCK_MS;
    const { campaigns, slotOf } = campaignSlots(inventory);
    const bids = campaignBids(inventory, campaigns);
    // A campaign's draws come from a stream of its own, seeded by (run, campaign): they do not depend on which
    // other campaigns the inventory holds, so a retrieval slice bids exactly as the whole catalog would.
    for (let s = 0; s < campaigns.length; s++) {
      const entry = bids[s]!;
      const learned = state.campaigns.get(entry.campaign.id);
      const today = learned?.day === budgetPeriod(entry.campaign, nowMs).id;
      const plan = learned ? campaignPlan(learned) : neutralPlan(entry.campaign);
      const spent = today ? learned.spentMicros : 0;
      const opportunities = today ? learned.opportunities : 0;
      // The pace and cap change with the plan, the clock and the day's figures only: most votes reuse them.
      if (
        entry.plan !== plan ||
        entry.nowMs !== nowMs ||
        entry.spent !== spent ||
        entry.opportunities !== opportunities
      ) {
        entry.plan = plan;
        entry.nowMs = nowMs;
        entry.spent = spent;
        entry.opportunities = opportunities;
        entry.pace = budgetPace(entry.campaign, spent, opportunities, nowMs);
        // cappedBid's cap (decide-bid.ts).
        entry.cap = Math.max(0, Math.min(plan.config.maxBidMicros, Math.floor(entry.pace.budgetLeftMicros)));
        entry.budgetCap = Math.max(0, Math.floor(entry.pace.budgetLeftMicros));
        entry.response = Number.NaN;
      }
      // The calibrations are the bidder's own (plan.contexts is shared), read afresh on every vote.
      const context = plan.contexts[key] ?? NEUTRAL_CONTEXT;
      entry.context = context;
      entry.contextMultiplier = sampleMultiplier(
        context,
        plan.config.calibration,
        createSeededRandom((seed ^ entry.seed) >>> 0),
      );
      // Without learned values the pacing solution also depends on the context's mean multiplier (see
      // pacingMultiplier): compared by value like solvedPacing does, so a changed calibration is seen.
      const mean = plan.values.length > 0 ? 0 : meanMultiplier(context, plan.config.calibration);
      if (mean !== entry.mean) {
        entry.mean = mean;
        entry.response = Number.NaN;
      }
    }
    const candidates = inventory.candidates;
    const f = input.features;
    for (let i = 0; i < candidates.length; i++) {
      const entry = bids[slotOf[i]!]!;
      const response = usableResponse(relevance?.[i] || entry.prior);
      // With learned values the pacing problem does not depend on the response (see pacingMultiplier).
      const pacingResponse = entry.plan!.values.length > 0 ? 0 : response;
      // The entry keeps the last solution (plan, pace, mean and response unchanged: the same problem).
      if (pacingResponse !== entry.response) {
        entry.response = pacingResponse;
        entry.pacing = solvedPacing(entry.plan!, entry.context, entry.pace, entry.mean, pacingResponse);
      }
      const row = i * 5;
      // Without Relevance's prediction (parallel and cached coordination) the kernel multiplies the bid per
      // response by a response this vote has not seen: the cap per impression at the max bid is then the
      // gateway's (build-kernel-request.ts, in the kernel's units), and this vote caps by the budget left only.
      f[row + 4] = relevance ? entry.cap : entry.budgetCap;
      if (entry.fixed) {
        // A fixed CPM bids its CPM on every impression (campaign.proto: "Always bid max_cpm_micros"), whatever the
        // predicted response, unshaded; its pace is kept by the Budget agent (leases, throttling). With Relevance's
        // prediction: max bid / response. Without it, per the least response the kernel may use, so that the
        // gateway's max-CPM cap brings it to exactly the CPM per impression.
        const r = relevance ? response : FIXED_RESPONSE_FLOOR;
        f[row] = r;
        f[row + 1] = r > 0 ? entry.plan!.config.maxBidMicros / r : 0;
        f[row + 2] = 1;
        f[row + 3] = 1;
        continue;
      }
      f[row] = response;
      f[row + 1] = entry.plan!.config.valuePerResponseMicros;
      f[row + 2] = entry.contextMultiplier;
      f[row + 3] = entry.pacing;
    }
    return { n: candidates.length, carry: undefined };
  },
  reference(n, { features: f, output }, capacity) {
    for (let c = 0; c < n; c++) {
      const response = f[c * 5]!;
      // decideBid's arithmetic (bidWith, cappedBid), without its result object per candidate.
      const valueMicros = response * f[c * 5 + 1]! * f[c * 5 + 2]!;
      output[1 + capacity + c] =
        response > 0 ? Math.min(f[c * 5 + 4]!, Math.floor(f[c * 5 + 3]! * valueMicros)) / response : 0;
      output[1 + c] = 0;
    }
    output[0] = 0.6;
  },
  finish(_ctx, _state, _carry, n, out) {
    const vote = newVote();
    vote.confidence = confidenceOf(out);
    vote.bidsMicros = extrasOf(out, n);
    return vote;
  },
  goldenCases(seed) {
    const random = createSeededRandom(seed);
    return Array.from({ length: 12 }, (_, k) => {
      const n = k === 0 ? 0 : Math.floor(random() * 100);
      const features = new Float64Array(n * 5);
      for (let c = 0; c < n; c++) {
        features[c * 5] = k === 1 ? 0 : random() * 0.2;
        features[c * 5 + 1] = 1_000 + Math.floor(random() * 2_000_000);
        features[c * 5 + 2] = 0.5 + random();
        features[c * 5 + 3] = random() * 2;
        features[c * 5 + 4] = Math.floor(random() * 50_000);
      }
      return { n, context: new Float64Array(0), features };
    });
  },
};

/** Bidding's vote with the built-in scoring (see biddingScoring). */
export function voteBidding(ctx: VoteContext, state: BiddingState): AgentVote {
  return referenceVote(biddingScoring, ctx, state);
}

/**
 * The response a fixed CPM's bid per response is scaled to when Relevance's prediction is unknown: below any
 * prediction the kernel acts on, so that bid x response reaches the CPM and the gateway's cap sets it exactly.
 */
const FIXED_RESPONSE_FLOOR = 1e-6;

/** The pace is read on this clock: pacing changes over hours, and a coarser clock lets votes reuse solutions. */
const PACE_CLOCK_MS = 1_000;
const NEUTRAL_CONTEXT = createValueCalibration();

/**
 * A campaign's bid inputs, one per campaign slot of an inventory, kept from vote to vote: what depends only on the
 * plan, the pace clock and the day's figures (pace, cap, the pacing solution) is recomputed when one of those
 * differs from the previous vote's, which within a pace clock tick is rare. Every input is compared, so votes on
 * different states (an agent's and a gateway's mirror in one process) only cost recomputations.
 */
interface CampaignBid {
  readonly campaign: Campaign;
  /** A fixed-CPM campaign: it bids its max CPM on every impression. */
  readonly fixed: boolean;
  /** The campaign's part of its draw stream's seed (a hash of its id). */
  readonly seed: number;
  /** The goal's prior response rate (used when Relevance has not voted before). */
  readonly prior: number;
  plan: BiddingPlan | undefined;
  nowMs: number;
  spent: number;
  opportunities: number;
  pace: BudgetPace;
  /** The bid cap: max bid and budget left (micros). */
  cap: number;
  /** The budget left alone (micros): the cap when the max bid is applied by the gateway. */
  budgetCap: number;
  context: ValueCalibration;
  /** This vote's draw. */
  contextMultiplier: number;
  /** The context's mean multiplier when the plan has no learned values (else 0). */
  mean: number;
  /** The response of the last pacing problem solved (0 once values are learned; NaN: none) and its multiplier. */
  response: number;
  pacing: number;
}

const bidsByInventory = new WeakMap<Inventory, CampaignBid[]>();

function campaignBids(inventory: Inventory, campaigns: readonly Campaign[]): CampaignBid[] {
  let bids = bidsByInventory.get(inventory);
  if (!bids) {
    bids = campaigns.map((campaign) => ({
      campaign,
      fixed: campaign.bidStrategy?.kind === BidStrategy_Kind.FIXED_CPM,
      seed: idSeed(campaign.id),
      prior: priorRate(campaign.goal),
      plan: undefined,
      nowMs: Number.NaN,
      spent: Number.NaN,
      opportunities: Number.NaN,
      pace: { budgetLeftMicros: 0, opportunitiesLeft: 1 },
      cap: 0,
      budgetCap: 0,
      context: NEUTRAL_CONTEXT,
      contextMultiplier: 0,
      mean: Number.NaN,
      response: Number.NaN,
      pacing: 0,
    }));
    bidsByInventory.set(inventory, bids);
  }
  return bids;
}

/** FNV-1a of a campaign id. */
function idSeed(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** contextKey strings by (break kind, device type): the same string object vote after vote. */
const contextKeys = new Map<number, string>();

/**
 * contextKey(request), remembered: each campaign looks its calibration up by this key on every vote, and a string
 * built afresh must be hashed and internalised for each of those lookups. Enums outside 0..1023 are not remembered.
 */
function contextKeyOf(request: DecideRequest): string {
  const breakKind = request.placement?.breakKind ?? 0;
  const device = request.device?.type ?? 0;
  if (!(breakKind >= 0 && breakKind < 1024 && device >= 0 && device < 1024)) return contextKey(request);
  const id = breakKind * 1024 + device;
  let key = contextKeys.get(id);
  if (key === undefined) {
    key = contextKey(request);
    contextKeys.set(id, key);
  }
  return key;
}

/** Relevance's predicted responses when it voted before (sequential coordination). */
function relevanceResponses(priorVotes: readonly AgentVote[]): readonly number[] | undefined {
  for (let i = 0; i < priorVotes.length; i++)
    if (priorVotes[i]!.agent === "relevance") return priorVotes[i]!.predictedResponse;
  return undefined;
}

/** A solved pacing problem: the plan's inputs that vary between votes, and the multiplier. */
interface PacingSolution {
  budgetLeftMicros: number;
  opportunitiesLeft: number;
  response: number;
  mean: number;
  multiplier: number;
}

/** Recent solutions per plan (a new plan starts empty); a handful, compared by value, newest first. */
const pacingSolutions = new WeakMap<BiddingPlan, PacingSolution[]>();
const SOLUTIONS_PER_PLAN = 8;

/** `mean`: the context's mean multiplier when the plan has no learned values, else 0 (see pacingMultiplier). */
function solvedPacing(
  plan: BiddingPlan,
  context: ValueCalibration,
  pace: BudgetPace,
  mean: number,
  response: number,
): number {
  let solutions = pacingSolutions.get(plan);
  if (!solutions) {
    solutions = [];
    pacingSolutions.set(plan, solutions);
  }
  for (const s of solutions)
    if (
      s.budgetLeftMicros === pace.budgetLeftMicros &&
      s.opportunitiesLeft === pace.opportunitiesLeft &&
      s.response === response &&
      s.mean === mean
    )
      return s.multiplier;
  const multiplier = pacingMultiplier(plan, context, response, pace);
  solutions.unshift({ ...pace, response, mean, multiplier });
  if (solutions.length > SOLUTIONS_PER_PLAN) solutions.pop();
  return multiplier;
}

/**
 * Plans of campaigns the agent has not seen bid yet: computed once per campaign object (a catalog load brings new
 * objects). Not by id and revision: two catalogs may hold different campaigns under one id (the simulator's worlds
 * of different seeds do, in one process), and a plan made from another campaign's max bid and value bid wrongly.
 */
const neutralPlans = new WeakMap<Campaign, BiddingPlan>();
function neutralPlan(campaign: Campaign): BiddingPlan {
  let plan = neutralPlans.get(campaign);
  if (!plan) {
    plan = planBidding(newCampaignBidder(campaign));
    neutralPlans.set(campaign, plan);
  }
  return plan;
}

/**
 * The run id's last 32 bits (its random part for a UUID: the last 8 hex digits once the dashes are dropped), or a
 * string hash for other ids. Read backwards char by char: no string or regex per vote.
 */
export function seedOf(runId: string): number {
  let seed = 0;
  let place = 1;
  let digits = 0;
  for (let i = runId.length - 1; i >= 0 && digits < 8; i--) {
    const code = runId.charCodeAt(i);
    if (code === 45) continue; // "-"
    const digit = hexDigit(code);
    if (digit < 0) break;
    seed += digit * place;
    place *= 16;
    digits++;
  }
  if (digits === 8) return seed;
  let h = 0;
  for (let i = 0; i < runId.length; i++) h = Math.imul(h, 31) + runId.charCodeAt(i);
  return h >>> 0;
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  const lower = code | 32;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1; // a-f, A-F
}
