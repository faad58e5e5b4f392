import { Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import type { Candidate } from "../../lib/catalog/inventory.ts";
import { featureSlot, topLevelCategory } from "../../lib/features/feature-space.ts";

/** Size of the hashed feature space of the response model. */
export const MODEL_SIZE = 4096;

/**
 * Prior response rates: the model learns a correction to these (an offset in logit space), so an untrained model
 * predicts plausible rates instead of 0.5. Impressions are the response for impression goals (rate 1).
 */
const PRIOR_RATE: Record<Goal, number> = {
  [Goal.UNSPECIFIED]: 1,
  [Goal.IMPRESSIONS]: 1,
  [Goal.COMPLETIONS]: 0.6,
  [Goal.CLICKS]: 0.02,
  [Goal.CONVERSIONS]: 0.002,
};

export function priorRate(goal: Goal): number {
  return PRIOR_RATE[goal] ?? 1;
}

export const priorLogit = (goal: Goal) => {
  const r = Math.min(0.999, priorRate(goal));
  return Math.log(r / (1 - r));
};

/** Hashed binary features of (request, candidate): the candidate, its category crossed with the moment. */
export function responseFeatures(request: DecideRequest, candidate: Candidate, nowMs: number): number[] {
  const cat = topLevelCategory(candidate.creative.iabCategory || "none");
  const genre = request.context?.genre.toLowerCase() || "none";
  const device = request.device?.type ?? 0;
  const daypart = Math.floor(new Date(nowMs).getUTCHours() / 6);
  const goal = candidate.campaign.goal;
  const names = [
    `bias:${goal}`,
    `cr:${candidate.creative.id}`,
    `cmp:${candidate.campaign.id}`,
    `cat:${cat}|genre:${genre}`,
    `fmt:${candidate.creative.format}|dev:${device}|fg:${request.device?.foreground ? 1 : 0}`,
    `cat:${cat}|dp:${daypart}`,
    `goal:${goal}|genre:${genre}`,
  ];
  return names.map((n) => featureSlot(n, MODEL_SIZE).index);
}
