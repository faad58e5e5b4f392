import type { BiddingPlan } from "./plan-bidding.ts";
import type { Random } from "./seeded-random.ts";
import { solvePacingMultiplier } from "./solve-pacing-multiplier.ts";
import {
  createValueCalibration,
  meanMultiplier,
  sampleMultiplier,
  type ValueCalibration,
} from "./value-calibration.ts";

/** One candidate of one campaign in one auction. */
export interface BidRequest {
  /** The context whose calibration applies (e.g. `${placement}|${deviceType}`); unknown keys start at the prior. */
  contextKey: string;
  /** Predicted responses per impression (the Relevance agent's predicted_response): a probability for clicks. */
  predictedResponse: number;
}

/**
 * Where the campaign stands against its plan, from the Budget agent, for the current budget period (day, flight,
 * or a benchmark episode). A campaign ahead of plan has less budget left per opportunity left than planned, and
 * the pacing multiplier drops with it.
 */
export interface BudgetPace {
  /** What the campaign may still spend in the period (its remaining budget or lease), in micros. */
  budgetLeftMicros: number;
  /** Opportunities (auctions it is a candidate in) expected before the period ends, this one included. */
  opportunitiesLeft: number;
}

export interface BidDecision {
  /** Integer micros per impression, within [0, min(maxBidMicros, budgetLeftMicros)]. */
  bidMicros: number;
  /**
   * The same bid per predicted response (bidMicros / predictedResponse; 0 when no response is predicted): the unit
   * of AgentVote.bids_micros, which the kernel multiplies back by the predicted response.
   */
  bidPerResponseMicros: number;
  /** The calibrated value of the impression with the explored multiplier, in micros. */
  valueMicros: number;
  /** bid = pacingMultiplier x valueMicros before caps. */
  pacingMultiplier: number;
  /** The Thompson draw of the context multiplier that `valueMicros` used. */
  contextMultiplier: number;
}

/**
 * The bid for one candidate: bid = pacing multiplier x predicted response x value per response x context
 * multiplier, capped by the max bid and the budget left. Pure: the same plan, request, pace and random draws give
 * the same decision. See README.md for the algorithm.
 */
export function decideBid(plan: BiddingPlan, request: BidRequest, pace: BudgetPace, random: Random): BidDecision {
  const context = plan.contexts[request.contextKey] ?? createValueCalibration();
  const response = usableResponse(request.predictedResponse);
  const contextMultiplier = sampleMultiplier(context, plan.config.calibration, random);
  return bidWith(plan, response, contextMultiplier, pacingMultiplier(plan, context, response, pace), pace);
}

/** A predicted response the formulas can use: positive and finite, else 0. */
export function usableResponse(predictedResponse: number): number {
  return predictedResponse > 0 && Number.isFinite(predictedResponse) ? predictedResponse : 0;
}

/**
 * The pacing multiplier for an offer of this response in this context (no random draw: a vote can solve it once
 * per campaign and reuse it for every candidate and every decision with the same plan and pace).
 */
export function pacingMultiplier(
  plan: BiddingPlan,
  context: ValueCalibration,
  response: number,
  pace: BudgetPace,
): number {
  const { config } = plan;
  // Before the first offer is recorded, plan as if every offer were like this one.
  const values =
    plan.values.length > 0
      ? plan.values
      : [
          {
            valueMicros: response * config.valuePerResponseMicros * meanMultiplier(context, config.calibration),
            share: 1,
          },
        ];
  return solvePacingMultiplier({
    values,
    market: plan.market,
    budgetLeftMicros: pace.budgetLeftMicros,
    opportunitiesLeft: pace.opportunitiesLeft,
    maxBidMicros: config.maxBidMicros,
    minMultiplier: config.minPacingMultiplier,
    maxMultiplier: config.maxPacingMultiplier,
  });
}

/** The capped bid from its parts (`response` as given by usableResponse). */
export function bidWith(
  plan: BiddingPlan,
  response: number,
  contextMultiplier: number,
  pacing: number,
  pace: BudgetPace,
): BidDecision {
  const valueMicros = response * plan.config.valuePerResponseMicros * contextMultiplier;
  const bidMicros = cappedBid(plan, valueMicros, pacing, pace);
  const bidPerResponseMicros = response > 0 ? bidMicros / response : 0;
  return { bidMicros, bidPerResponseMicros, valueMicros, pacingMultiplier: pacing, contextMultiplier };
}

/** Integer micros per impression: pacing x value, capped by the max bid and the budget left. */
export function cappedBid(plan: BiddingPlan, valueMicros: number, pacing: number, pace: BudgetPace): number {
  const cap = Math.max(0, Math.min(plan.config.maxBidMicros, Math.floor(pace.budgetLeftMicros)));
  return Math.min(cap, Math.floor(pacing * valueMicros));
}
