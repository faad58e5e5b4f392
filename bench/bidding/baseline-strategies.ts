import type { TrainingStats } from "./auction-log.ts";
import type { BiddingStrategy } from "./replay-episodes.ts";

/** Mcpc: bid = pCTR x the training eCPC (cost_train / clk_train), as in the published code. */
export function mcpcStrategy(training: TrainingStats): BiddingStrategy {
  const ecpc = training.cost / training.clicks;
  return { bid: ({ pctr }) => pctr * ecpc };
}

/** Lin (Perlich et al., KDD 2012): bid = b0 x pCTR / the training average CTR. */
export function linearStrategy(training: TrainingStats, b0: number): BiddingStrategy {
  const averageCtr = training.clicks / training.impressions;
  return { bid: ({ pctr }) => (b0 * pctr) / averageCtr };
}
