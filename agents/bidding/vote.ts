import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { Campaign } from "../../gen/chorus/v1/campaign_pb.ts";
import { priorRate } from "../relevance/relevance-features.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { type BudgetPace, decideBid } from "./decide-bid.ts";
import { type BiddingPlan, planBidding } from "./plan-bidding.ts";
import { createSeededRandom } from "./seeded-random.ts";
import { type BiddingState, contextKey, DAY_MS, newCampaignBidder } from "./state.ts";

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
 * Bidding's vote: a bid per response unit per candidate (agents/bidding/README.md: pacing multiplier x calibrated
 * value, Thompson-sampled context multiplier, capped by max bid and budget left). Random draws are seeded by the
 * run id, so the vote is a pure function of (context, state) and a replay reproduces it. The predicted response
 * is Relevance's when it voted before (sequential), else the goal's prior rate.
 */
export function voteBidding(ctx: VoteContext, state: BiddingState): AgentVote {
  const { request, inventory, nowMs } = ctx;
  const random = createSeededRandom(seedOf(ctx.runId));
  const relevance = ctx.priorVotes.find((v) => v.agent === "relevance")?.predictedResponse;
  const key = contextKey(request);
  const day = Math.floor(nowMs / DAY_MS);
  const plans = new Map<string, { plan: BiddingPlan; pace: BudgetPace }>();
  const bids: number[] = [];
  for (const c of inventory.candidates) {
    let entry = plans.get(c.campaign.id);
    if (!entry) {
      const learned = state.campaigns.get(c.campaign.id);
      const today = learned?.day === day;
      entry = {
        plan: learned?.plan ?? neutralPlan(c.campaign),
        pace: budgetPace(c.campaign, today ? learned.spentMicros : 0, today ? learned.opportunities : 0, nowMs),
      };
      plans.set(c.campaign.id, entry);
    }
    const p = relevance?.[c.index] || priorRate(c.campaign.goal);
    bids.push(
      decideBid(entry.plan, { contextKey: key, predictedResponse: p }, entry.pace, random).bidPerResponseMicros,
    );
  }
  return create(AgentVoteSchema, { confidence: 0.6, bidsMicros: bids, scores: [] });
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
