import type { AuctionLog, TrainingStats } from "./auction-log.ts";
import { linearStrategy } from "./baseline-strategies.ts";
import { type ReplayResult, replayEpisodes } from "./replay-episodes.ts";

/**
 * A synthetic auction log made from training statistics only: market prices drawn from the training price
 * histogram, and every pCTR equal to the training average CTR (the training statistics hold no per-auction
 * pCTRs, and no other assumption about their spread can be justified from them). Clicks are left at 0: tuning
 * counts expected clicks (the sum of pCTRs won), which is what a bidder that knows only the average can estimate.
 */
export function synthesizeTrainingLog(training: TrainingStats, auctions: number, random: () => number): AuctionLog {
  const cumulative: number[] = [];
  let total = 0;
  for (const count of training.priceHistogram) {
    total += count;
    cumulative.push(total);
  }
  const averageCtr = training.clicks / training.impressions;
  const log: AuctionLog = {
    clicks: new Uint8Array(auctions),
    prices: new Uint16Array(auctions),
    pctrs: new Float64Array(auctions).fill(averageCtr),
  };
  for (let i = 0; i < auctions; i++) {
    const target = random() * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (cumulative[middle]! > target) high = middle;
      else low = middle + 1;
    }
    log.prices[i] = low;
  }
  return log;
}

export interface LinearTuning {
  b0: number;
  /** The objective at b0. */
  score: number;
}

/** What a tuning maximises: expected clicks on a synthetic log, or real clicks for a hindsight reference. */
export type TuningObjective = (result: ReplayResult) => number;

export const expectedClicks: TuningObjective = (result) => result.expectedClicks;
export const realClicks: TuningObjective = (result) => result.clicks;

/**
 * Lin's b0 for one budget: the integer b0 in [1, maxBid] that maximises `objective` when Lin replays `log` under
 * the benchmark protocol. Ties go to the smaller b0 (less spend for the same clicks).
 */
export function tuneLinearBid(
  training: TrainingStats,
  log: AuctionLog,
  options: { episodeSize: number; episodeBudget: number; maxBid: number },
  objective: TuningObjective,
): LinearTuning {
  let best = { b0: 1, score: Number.NEGATIVE_INFINITY };
  for (let b0 = 1; b0 <= options.maxBid; b0++) {
    const score = objective(replayEpisodes(log, linearStrategy(training, b0), options));
    if (score > best.score + 1e-12) best = { b0, score };
  }
  return { b0: best.b0, score: best.score };
}
