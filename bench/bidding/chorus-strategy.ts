import {
  type CampaignBidder,
  campaignBidderConfig,
  createCampaignBidder,
  recordAuction,
  recordResponses,
} from "../../voting/bidding/campaign-bidder.ts";
import { decideBid } from "../../voting/bidding/decide-bid.ts";
import { planBidding } from "../../voting/bidding/plan-bidding.ts";
import { createSeededRandom } from "../../voting/bidding/seeded-random.ts";
import type { TrainingStats } from "./auction-log.ts";
import type { BiddingStrategy } from "./replay-episodes.ts";

/** One price unit of the log (fen of CPM) in micros: prices, bids and budgets reach the agent as integer micros. */
export const MICROS_PER_PRICE_UNIT = 10_000;

/** The log has no placement or device: the whole campaign is one context. */
const CONTEXT = "campaign-2997";

/**
 * The Bidding agent's own logic (voting/bidding) behind the replay's strategy interface. Everything it knows before
 * the replay comes from the training statistics: the value of a click is the training eCPC (so a pacing multiplier
 * of 1 bids exactly Mcpc's bid) and the training price histogram is the market prior. Per auction it plans from its
 * learned state, decides with the episode's budget left and auctions left as the Budget agent's pace, and learns
 * from the outcome with censored feedback: a loss tells it only that the price was above its bid.
 */
export function chorusStrategy(
  training: TrainingStats,
  options: { maxBid: number; seed: number },
): BiddingStrategy & { bidder: CampaignBidder } {
  const bidder = createCampaignBidder(
    campaignBidderConfig({
      maxBidMicros: options.maxBid * MICROS_PER_PRICE_UNIT,
      valuePerResponseMicros: Math.round((training.cost / training.clicks) * MICROS_PER_PRICE_UNIT),
      market: {
        bucketMicros: MICROS_PER_PRICE_UNIT,
        bucketCount: training.priceHistogram.length,
        prior: training.priceHistogram,
      },
    }),
  );
  const random = createSeededRandom(options.seed);
  return {
    bidder,
    bid({ pctr, budgetLeft, auctionsLeft }) {
      const decision = decideBid(
        planBidding(bidder),
        { contextKey: CONTEXT, predictedResponse: pctr },
        { budgetLeftMicros: budgetLeft * MICROS_PER_PRICE_UNIT, opportunitiesLeft: auctionsLeft },
        random,
      );
      return Math.floor(decision.bidMicros / MICROS_PER_PRICE_UNIT);
    },
    observe(feedback) {
      const common = {
        contextKey: CONTEXT,
        predictedResponse: feedback.pctr,
        bidMicros: feedback.bid * MICROS_PER_PRICE_UNIT,
      };
      if (feedback.won) {
        recordAuction(bidder, { ...common, won: true, priceMicros: feedback.price * MICROS_PER_PRICE_UNIT });
        if (feedback.click) recordResponses(bidder, CONTEXT, 1);
      } else {
        recordAuction(bidder, { ...common, won: false });
      }
    },
  };
}
