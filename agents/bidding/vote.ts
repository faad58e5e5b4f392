import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { Campaign } from "../../gen/chorus/v1/campaign_pb.ts";
import { campaignSlots } from "../../lib/catalog/campaign-slots.ts";
import { SCORING_LAYOUTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import { priorRate } from "../relevance/relevance-features.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { type AgentScoring, confidenceOf, extrasOf, referenceVote } from "../runtime/agent-scoring.ts";
import { type BudgetPace, pacingMultiplier, usableResponse } from "./decide-bid.ts";
import { type BiddingPlan, planBidding } from "./plan-bidding.ts";
import { createSeededRandom } from "./seeded-random.ts";
import { type BiddingState, campaignPlan, contextKey, DAY_MS, newCampaignBidder } from "./state.ts";
import {
  createValueCalibration,
  meanMultiplier,
  sampleMultiplier,
  type ValueCalibration,
} from "./value-calibration.ts";

/** Auctions a campaign is assumed to see per day before the agent has measured it. */
const DEFAULT_DAILY_OPPORTUNITIES = 10_000;

/** The campaign's budget pace today: what is left of the daily budget, and the auctions expected until midnight. */
export function budgetPace(campaign: Campaign, spentMicros: number, opportunities: number, nowMs: number): BudgetPace {
  const daily = Number(campaign.dailyBudgetMicros || campaign.budgetMicros);
  const elapsed = Math.max(60_000, nowMs % DAY_MS);
  const perMs = opportunities > 0 ? opportunities / elapsed : DEFAULT_DAILY_OPPORTUNITIES / DAY_MS;
  return {
    budgetLeftMicros: Math.max(0, daily - spentMicros),
    opportunitiesLeft: Math.max(1, perMs * (DAY_MS - (nowMs % DAY_MS))),
  };
}

/**
 * Bidding's scoring (agent scoring ABI, wasm-core/assembly/agents/bidding.ts): a bid per response unit per
 * candidate (agents/bidding/README.md: pacing multiplier x calibrated value, Thompson-sampled context multiplier,
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
    const random = createSeededRandom(seedOf(ctx.runId));
    const relevance = ctx.priorVotes.find((v) => v.agent === "relevance")?.predictedResponse;
    const key = contextKey(request);
    const nowMs = Math.floor(ctx.nowMs / PACE_CLOCK_MS) * PACE_CLOCK_MS;
    const day = Math.floor(nowMs / DAY_MS);
    const { campaigns, slotOf } = campaignSlots(inventory);
    const bidOf: (CampaignBid | undefined)[] = new Array(campaigns.length);
    const candidates = inventory.candidates;
    const f = input.features;
    for (let i = 0; i < candidates.length; i++) {
      const campaign = campaigns[slotOf[i]!]!;
      let entry = bidOf[slotOf[i]!];
      if (!entry) {
        const learned = state.campaigns.get(campaign.id);
        const today = learned?.day === day;
        const plan = learned ? campaignPlan(learned) : neutralPlan(campaign);
        const context = plan.contexts[key] ?? NEUTRAL_CONTEXT;
        const pace = budgetPace(campaign, today ? learned.spentMicros : 0, today ? learned.opportunities : 0, nowMs);
        entry = {
          plan,
          context,
          pace,
          contextMultiplier: sampleMultiplier(context, plan.config.calibration, random),
          prior: priorRate(campaign.goal),
          response: Number.NaN,
          pacing: 0,
          // cappedBid's cap (decide-bid.ts).
          cap: Math.max(0, Math.min(plan.config.maxBidMicros, Math.floor(pace.budgetLeftMicros))),
        };
        bidOf[slotOf[i]!] = entry;
      }
      const response = usableResponse(relevance?.[i] || entry.prior);
      // With learned values the pacing problem does not depend on the response (see pacingMultiplier).
      const pacingResponse = entry.plan.values.length > 0 ? 0 : response;
      if (pacingResponse !== entry.response) {
        entry.response = pacingResponse;
        entry.pacing = solvedPacing(entry, pacingResponse);
      }
      const row = i * 5;
      f[row] = response;
      f[row + 1] = entry.plan.config.valuePerResponseMicros;
      f[row + 2] = entry.contextMultiplier;
      f[row + 3] = entry.pacing;
      f[row + 4] = entry.cap;
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
    return create(AgentVoteSchema, { confidence: confidenceOf(out), bidsMicros: extrasOf(out, n), scores: [] });
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

/** The pace is read on this clock: pacing changes over hours, and a coarser clock lets votes reuse solutions. */
const PACE_CLOCK_MS = 1_000;
const NEUTRAL_CONTEXT = createValueCalibration();

interface CampaignBid {
  plan: BiddingPlan;
  context: ValueCalibration;
  pace: BudgetPace;
  contextMultiplier: number;
  /** The goal's prior response rate (used when Relevance has not voted before). */
  prior: number;
  /** The response of the last pacing problem solved (0 once values are learned) and its multiplier. */
  response: number;
  pacing: number;
  /** The bid cap: max bid and budget left (micros). */
  cap: number;
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

function solvedPacing({ plan, context, pace }: CampaignBid, response: number): number {
  let solutions = pacingSolutions.get(plan);
  if (!solutions) {
    solutions = [];
    pacingSolutions.set(plan, solutions);
  }
  // Without learned values the solution also depends on the context's mean multiplier (see pacingMultiplier).
  const mean = plan.values.length > 0 ? 0 : meanMultiplier(context, plan.config.calibration);
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

/** Plans of campaigns the agent has not seen bid yet: computed once per campaign settings. */
const neutralPlans = new Map<string, BiddingPlan>();
function neutralPlan(campaign: Campaign): BiddingPlan {
  const id = `${campaign.id}@${campaign.revision}`;
  let plan = neutralPlans.get(id);
  if (!plan) {
    if (neutralPlans.size > 10_000) neutralPlans.clear();
    plan = planBidding(newCampaignBidder(campaign));
    neutralPlans.set(id, plan);
  }
  return plan;
}

/** The run id's last 32 bits (its random part for a UUID), or a string hash for other ids. */
function seedOf(runId: string): number {
  const hex = runId.replace(/-/g, "").slice(-8);
  if (/^[0-9a-f]{8}$/i.test(hex)) return Number.parseInt(hex, 16);
  let h = 0;
  for (let i = 0; i < runId.length; i++) h = Math.imul(h, 31) + runId.charCodeAt(i);
  return h >>> 0;
}
