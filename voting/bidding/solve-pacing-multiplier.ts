import type { MarketPriceEstimate } from "./estimate-market-price.ts";
import type { ValuePoint } from "./value-distribution.ts";

/**
 * The budget-constrained bidding problem for the rest of a budget period: `opportunitiesLeft` more offers whose
 * values follow `values`, against prices that follow `market`, and `budgetLeftMicros` to spend.
 */
export interface PacingProblem {
  values: ValuePoint[];
  market: MarketPriceEstimate;
  budgetLeftMicros: number;
  opportunitiesLeft: number;
  maxBidMicros: number;
  minMultiplier: number;
  maxMultiplier: number;
}

const BISECTION_STEPS = 32;

/** Expected spend per offer when every offer of value v is bid min(multiplier * v, bidCapMicros). */
export function expectedSpendPerOpportunity(
  values: ValuePoint[],
  market: MarketPriceEstimate,
  multiplier: number,
  bidCapMicros: number,
): number {
  const last = market.spend.length - 1;
  let spend = 0;
  for (const { valueMicros, share } of values) {
    const bid = Math.min(bidCapMicros, multiplier * valueMicros);
    if (bid >= 0) spend += share * market.spend[Math.min(last, Math.floor(bid / market.bucketMicros))];
  }
  return spend;
}

/**
 * The pacing multiplier m of the bid m * value: the largest m in [minMultiplier, maxMultiplier] whose expected
 * spend per offer is at most the budget left per offer left.
 *
 * Why bid = m * value: maximising total value subject to a spend limit in second-price auctions, the Lagrangian
 * relaxation gives "win exactly the offers whose value - lambda * price >= 0", i.e. bid value / lambda, with one
 * multiplier m = 1/lambda for all offers (Zhang et al., "Optimal real-time bidding", KDD 2014; Balseiro & Gur,
 * "Learning in repeated auctions with budgets", 2019). Solving it again at every decision with the budget and
 * offers actually left (certainty-equivalent re-solving, model-predictive control) closes the loop: a campaign
 * ahead of plan has less budget per remaining offer and bids lower, one behind bids higher, and in the last
 * offers of a period an unspent budget is bid out instead of wasted.
 *
 * Expected spend is non-decreasing in m, so bisection on log m finds the boundary; the lower end is returned so
 * that the plan never expects to overspend.
 */
export function solvePacingMultiplier(problem: PacingProblem): number {
  const { values, market, budgetLeftMicros, maxBidMicros, minMultiplier, maxMultiplier } = problem;
  if (!(minMultiplier > 0) || !(maxMultiplier >= minMultiplier))
    throw new RangeError("pacing: need 0 < minMultiplier <= maxMultiplier");
  const target = Math.max(0, budgetLeftMicros) / Math.max(1, problem.opportunitiesLeft);
  const cap = Math.min(maxBidMicros, Math.max(0, budgetLeftMicros));
  const spendAt = (m: number) => expectedSpendPerOpportunity(values, market, m, cap);
  if (spendAt(maxMultiplier) <= target) return maxMultiplier;
  if (spendAt(minMultiplier) > target) return minMultiplier;
  let low = Math.log(minMultiplier);
  let high = Math.log(maxMultiplier);
  for (let step = 0; step < BISECTION_STEPS; step++) {
    const middle = (low + high) / 2;
    if (spendAt(Math.exp(middle)) > target) high = middle;
    else low = middle;
  }
  return Math.exp(low);
}
