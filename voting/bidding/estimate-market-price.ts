import type { MarketPriceModel, MarketPriceModelOptions } from "./market-price-model.ts";

/**
 * The market price distribution of a campaign, ready for planning: per bucket i, the chance that a bid covering
 * bucket i wins, and the expected spend per auction of such a bid (each won price counted at its bucket's upper
 * edge, i * bucketMicros: exact for integer price units, otherwise a slight over-estimate, the safe side).
 */
export interface MarketPriceEstimate {
  bucketMicros: number;
  winRate: number[];
  /** Expected spend per auction, in micros. */
  spend: number[];
}

/**
 * Kaplan-Meier (product-limit) estimate from exact wins and censored losses, with the prior counted as exact
 * observations. The hazard of bucket i is wins(i) / at-risk(i), where at-risk(i) counts every observation known
 * to have a price in bucket i or above: wins in buckets >= i and losses with a bid in buckets >= i. This is the
 * estimator Wu et al. (KDD 2015, "Predicting winning price in real time bidding with censored data") use for
 * lost bids. Mass that no observation reaches stays above the last bucket, never counted as won.
 */
export function estimateMarketPrice(model: MarketPriceModel, options: MarketPriceModelOptions): MarketPriceEstimate {
  const n = options.bucketCount;
  const events = new Float64Array(n);
  const censored = new Float64Array(n);
  const prior = options.prior;
  const priorTotal = prior ? prior.reduce((a, b) => a + b, 0) : n;
  let atRisk = 0;
  for (let i = 0; i < n; i++) {
    events[i] = ((prior ? prior[i] : 1) / priorTotal) * options.priorWeight + model.won[i] / model.weight;
    censored[i] = model.lost[i] / model.weight;
    atRisk += events[i] + censored[i];
  }
  const winRate = new Array<number>(n);
  const spend = new Array<number>(n);
  let survival = 1;
  let cumulativeSpend = 0;
  for (let i = 0; i < n; i++) {
    const hazard = atRisk > 0 ? events[i] / atRisk : 0;
    const mass = survival * hazard;
    survival -= mass;
    cumulativeSpend += mass * i * options.bucketMicros;
    winRate[i] = 1 - survival;
    spend[i] = cumulativeSpend;
    atRisk -= events[i] + censored[i];
  }
  return { bucketMicros: options.bucketMicros, winRate, spend };
}
