import type { CampaignBidder, CampaignBidderConfig } from "./campaign-bidder.ts";
import { estimateMarketPrice, type MarketPriceEstimate } from "./estimate-market-price.ts";
import type { ValueCalibration } from "./value-calibration.ts";
import { type ValuePoint, valuePoints } from "./value-distribution.ts";

/**
 * What a bid decision reads: the campaign's learned models in the form the decision needs (the market price
 * estimate is the only costly part, O(price buckets)). Plain data: the agent can compute it when its state changes
 * and publish it as its signal, so that `decideBid` runs anywhere (`cached` coordination) without the raw counts.
 * `contexts` is shared with the bidder, not copied: clone the plan before publishing it.
 */
export interface BiddingPlan {
  config: CampaignBidderConfig;
  market: MarketPriceEstimate;
  values: ValuePoint[];
  contexts: Record<string, ValueCalibration>;
}

export function planBidding(bidder: CampaignBidder): BiddingPlan {
  const { config } = bidder;
  return {
    config,
    market: estimateMarketPrice(bidder.market, config.market),
    values: valuePoints(bidder.values, config.values),
    contexts: bidder.contexts,
  };
}
