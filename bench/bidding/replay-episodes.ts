import type { AuctionLog } from "./auction-log.ts";

/** What a strategy sees before it bids: the auction's pCTR and where its episode stands. */
export interface AuctionView {
  pctr: number;
  /** Budget left in the episode, in price units. */
  budgetLeft: number;
  /** Auctions left in the episode, this one included. */
  auctionsLeft: number;
}

/** What a strategy learns after it bid: the price only when it won (censored feedback), the click only then. */
export type AuctionFeedback = { pctr: number; bid: number } & (
  | { won: true; price: number; click: boolean }
  | { won: false }
);

export interface BiddingStrategy {
  bid(view: AuctionView): number;
  observe?(feedback: AuctionFeedback): void;
}

export interface ReplayOptions {
  /** N: auctions per episode; the budget resets at each episode start. */
  episodeSize: number;
  /** B: budget per episode, in price units. */
  episodeBudget: number;
  maxBid: number;
  /** Called every `progressEvery` auctions with the count replayed so far. */
  onProgress?: (auctions: number) => void;
  progressEvery?: number;
}

export interface ReplayResult {
  auctions: number;
  episodes: number;
  impressions: number;
  clicks: number;
  /** Sum of the pCTRs of won auctions: clicks without the click noise. */
  expectedClicks: number;
  cost: number;
  /** Spend / budget of each full episode (a last, partial one is left out). */
  budgetUse: number[];
}

/**
 * The standard protocol of the iPinYou RTB replay (Cai et al., WSDM 2017, and their public code): episodes of N
 * consecutive auctions with budget B each; the bid is floored to an integer and capped by the max bid and the budget
 * left; it wins when bid >= market price and then pays the market price. A last, partial episode is played with a
 * full budget, as in the published code, so Mcpc reproduces the published figures exactly.
 */
export function replayEpisodes(log: AuctionLog, strategy: BiddingStrategy, options: ReplayOptions): ReplayResult {
  const { episodeSize, episodeBudget, maxBid } = options;
  const progressEvery = options.progressEvery ?? 10_000;
  const result: ReplayResult = {
    auctions: 0,
    episodes: 0,
    impressions: 0,
    clicks: 0,
    expectedClicks: 0,
    cost: 0,
    budgetUse: [],
  };
  let budgetLeft = episodeBudget;
  let auctionsLeft = episodeSize;
  const endEpisode = () => {
    result.episodes++;
    if (auctionsLeft === 0) result.budgetUse.push(episodeBudget > 0 ? (episodeBudget - budgetLeft) / episodeBudget : 0);
    budgetLeft = episodeBudget;
    auctionsLeft = episodeSize;
  };
  const n = log.prices.length;
  for (let i = 0; i < n; i++) {
    const pctr = log.pctrs[i]!;
    const price = log.prices[i]!;
    const asked = strategy.bid({ pctr, budgetLeft, auctionsLeft });
    const bid = Math.max(0, Math.min(Number.isFinite(asked) ? Math.floor(asked) : 0, maxBid, budgetLeft));
    if (bid >= price) {
      const click = log.clicks[i] === 1;
      result.impressions++;
      result.clicks += click ? 1 : 0;
      result.expectedClicks += pctr;
      result.cost += price;
      budgetLeft -= price;
      strategy.observe?.({ pctr, bid, won: true, price, click });
    } else {
      strategy.observe?.({ pctr, bid, won: false });
    }
    result.auctions++;
    auctionsLeft--;
    if (auctionsLeft === 0) endEpisode();
    if (options.onProgress && result.auctions % progressEvery === 0) options.onProgress(result.auctions);
  }
  if (auctionsLeft < episodeSize) endEpisode();
  options.onProgress?.(result.auctions);
  return result;
}

/** B = floor(cost_train / imp_train x c0 x N). */
export function episodeBudget(trainCost: number, trainImpressions: number, c0: number, episodeSize: number): number {
  return Math.floor((trainCost / trainImpressions) * c0 * episodeSize);
}
