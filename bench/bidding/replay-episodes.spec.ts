import { describe, expect, it } from "vitest";
import type { AuctionLog } from "./auction-log.ts";
import { type AuctionFeedback, type AuctionView, episodeBudget, replayEpisodes } from "./replay-episodes.ts";

const log = (rows: Array<[click: number, price: number, pctr: number]>): AuctionLog => ({
  clicks: Uint8Array.from(rows.map((r) => r[0])),
  prices: Uint16Array.from(rows.map((r) => r[1])),
  pctrs: Float64Array.from(rows.map((r) => r[2])),
});

describe("replay episodes - the RTB replay protocol", () => {
  it("computes B = floor(cost_train / imp_train x c0 x N) as the published code does", () => {
    expect(episodeBudget(19_689_072, 312_437, 1 / 32, 1000)).toBe(1969);
    expect(episodeBudget(19_689_072, 312_437, 1 / 2, 1000)).toBe(31_508);
  });

  it("wins when bid >= price, pays the price, caps bids by the max bid and the budget left, resets per episode", () => {
    const seen: AuctionView[] = [];
    const auctions = log([
      [1, 10, 0.1], // bid 12.9 -> 12 >= 10: win, pay 10, budget 15 -> 5
      [0, 5, 0.2], // bid capped by budget 5 >= 5: win, budget 0
      [1, 0, 0.3], // bid capped to 0 >= 0: win at price 0
      [0, 8, 0.4], // new episode, budget 15: bid 500 capped to maxBid 12 >= 8: win, budget 7
      [1, 9, 0.5], // bid capped by the budget left, 7 < 9: loss
    ]);
    const result = replayEpisodes(
      auctions,
      {
        bid: (view) => {
          seen.push(view);
          return [12.9, 50, 50, 500, 500][seen.length - 1]!;
        },
      },
      { episodeSize: 3, episodeBudget: 15, maxBid: 12 },
    );
    expect(seen.map((v) => [v.budgetLeft, v.auctionsLeft])).toEqual([
      [15, 3],
      [5, 2],
      [0, 1],
      [15, 3],
      [7, 2],
    ]);
    expect(result).toMatchObject({ auctions: 5, episodes: 2, impressions: 4, clicks: 2, cost: 23 });
    expect(result.expectedClicks).toBeCloseTo(1.0);
    // Only the full episode counts towards budget use; it spent all 15.
    expect(result.budgetUse).toEqual([1]);
  });

  it("gives censored feedback: the price and click only on a win", () => {
    const feedback: AuctionFeedback[] = [];
    replayEpisodes(
      log([
        [1, 50, 0.1],
        [1, 5, 0.1],
      ]),
      { bid: () => 10, observe: (f) => feedback.push(f) },
      { episodeSize: 10, episodeBudget: 100, maxBid: 300 },
    );
    expect(feedback).toEqual([
      { pctr: 0.1, bid: 10, won: false },
      { pctr: 0.1, bid: 10, won: true, price: 5, click: true },
    ]);
  });

  it("treats a non-finite or negative bid as no bid", () => {
    const result = replayEpisodes(
      log([
        [0, 1, 0.1],
        [0, 1, 0.1],
      ]),
      { bid: (v) => (v.auctionsLeft === 2 ? Number.NaN : -3) },
      { episodeSize: 2, episodeBudget: 10, maxBid: 300 },
    );
    expect(result.impressions).toBe(0);
  });
});
