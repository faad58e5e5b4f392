import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CampaignBidder,
  campaignBidderConfig,
  createCampaignBidder,
  recordAuction,
  recordResponses,
} from "./campaign-bidder.ts";
import { type BudgetPace, decideBid } from "./decide-bid.ts";
import { planBidding } from "./plan-bidding.ts";
import { createSeededRandom, type Random } from "./seeded-random.ts";

/** A campaign whose market prior puts every price in [from, to] micros (buckets of 10 micros up to 1,000). */
function bidderExpecting(from: number, to: number): CampaignBidder {
  const prior = Array.from({ length: 101 }, (_, i) => (i * 10 >= from && i * 10 <= to ? 1 : 0));
  return createCampaignBidder(
    campaignBidderConfig({
      maxBidMicros: 1000,
      valuePerResponseMicros: 1000,
      market: { bucketMicros: 10, bucketCount: 101, prior, priorWeight: 200, halfLife: 2000 },
    }),
  );
}

/**
 * One budget period against a market whose prices are uniform in [low, high]: the bidder decides, the auction
 * resolves, the bidder learns (a loss tells it nothing but "above the bid"). Returns the pacing multiplier of
 * each decision and the spend.
 */
function runPeriod(bidder: CampaignBidder, market: { low: number; high: number }, auctions: number, budget: number) {
  const random = createSeededRandom(5);
  const multipliers: number[] = [];
  let budgetLeft = budget;
  for (let i = 0; i < auctions; i++) {
    const predictedResponse = 0.05 + 0.1 * random();
    const price = Math.round(market.low + (market.high - market.low) * random());
    const decision = decideBid(
      planBidding(bidder),
      { contextKey: "ctx", predictedResponse },
      { budgetLeftMicros: budgetLeft, opportunitiesLeft: auctions - i },
      random,
    );
    multipliers.push(decision.pacingMultiplier);
    const common = { contextKey: "ctx", predictedResponse, bidMicros: decision.bidMicros };
    if (decision.bidMicros >= price) {
      budgetLeft -= price;
      recordAuction(bidder, { ...common, won: true, priceMicros: price });
    } else recordAuction(bidder, { ...common, won: false });
  }
  return { multipliers, spent: budget - budgetLeft };
}

function decisions(seed: number, bidder: CampaignBidder, pace: BudgetPace, count = 50): number[] {
  const random: Random = createSeededRandom(seed);
  const plan = planBidding(bidder);
  return Array.from(
    { length: count },
    (_, i) => decideBid(plan, { contextKey: "ctx", predictedResponse: 0.02 + i / 100 }, pace, random).bidMicros,
  );
}

describe("decide bid - bounded, paced, adaptive, repeatable", () => {
  it("always bids an integer in [0, min(max bid, budget left)]", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(Number.NaN), fc.constant(-1)),
        fc.integer(),
        (maxBidMicros, budgetLeftMicros, opportunitiesLeft, predictedResponse, seed) => {
          const bidder = createCampaignBidder(campaignBidderConfig({ maxBidMicros, valuePerResponseMicros: 5000 }));
          const { bidMicros } = decideBid(
            planBidding(bidder),
            { contextKey: "ctx", predictedResponse },
            { budgetLeftMicros, opportunitiesLeft },
            createSeededRandom(seed),
          );
          expect(Number.isInteger(bidMicros)).toBe(true);
          expect(bidMicros).toBeGreaterThanOrEqual(0);
          expect(bidMicros).toBeLessThanOrEqual(Math.min(maxBidMicros, Math.floor(budgetLeftMicros)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("lowers bids when the Budget agent's pace says the campaign is ahead of plan", () => {
    const bidder = bidderExpecting(10, 500);
    const onPlan = decisions(1, bidder, { budgetLeftMicros: 50_000, opportunitiesLeft: 500 });
    const ahead = decisions(1, bidder, { budgetLeftMicros: 20_000, opportunitiesLeft: 500 });
    const behind = decisions(1, bidder, { budgetLeftMicros: 80_000, opportunitiesLeft: 500 });
    for (const [i, bid] of ahead.entries()) expect(bid).toBeLessThanOrEqual(onPlan[i]!);
    for (const [i, bid] of behind.entries()) expect(bid).toBeGreaterThanOrEqual(onPlan[i]!);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(ahead)).toBeLessThan(0.8 * sum(onPlan));
    expect(sum(behind)).toBeGreaterThan(1.1 * sum(onPlan));
  });

  it("brings its multiplier down when it wins too much (the market is cheaper than it believed)", () => {
    const { multipliers, spent } = runPeriod(bidderExpecting(800, 1000), { low: 10, high: 50 }, 2000, 20_000);
    expect(multipliers[300]!).toBeLessThan(multipliers[0]! / 2);
    expect(spent).toBeLessThanOrEqual(20_000);
    expect(spent).toBeGreaterThan(0.9 * 20_000);
  });

  it("brings its multiplier up when it keeps losing (the market is dearer than it believed)", () => {
    const { multipliers, spent } = runPeriod(bidderExpecting(10, 50), { low: 400, high: 600 }, 2000, 40_000);
    expect(multipliers[300]!).toBeGreaterThan(multipliers[0]! * 2);
    expect(spent).toBeGreaterThan(0.8 * 40_000);
  });

  it("raises the bid of a context that brings more responses than predicted, relative to one that brings fewer", () => {
    const bidder = bidderExpecting(10, 500);
    for (let i = 0; i < 2000; i++)
      for (const contextKey of ["good", "bad"])
        recordAuction(bidder, { contextKey, predictedResponse: 0.1, bidMicros: 100, won: true, priceMicros: 50 });
    recordResponses(bidder, "good", 400); // predicted 200
    recordResponses(bidder, "bad", 100);
    const plan = planBidding(bidder);
    const pace = { budgetLeftMicros: 2_000, opportunitiesLeft: 100 };
    const good = decideBid(plan, { contextKey: "good", predictedResponse: 0.1 }, pace, createSeededRandom(1));
    const bad = decideBid(plan, { contextKey: "bad", predictedResponse: 0.1 }, pace, createSeededRandom(1));
    expect(good.contextMultiplier).toBeGreaterThan(1.5);
    expect(bad.contextMultiplier).toBeLessThan(0.7);
    expect(good.bidMicros).toBeGreaterThan(2 * bad.bidMicros);
  });

  it("is deterministic for a seed, and explores differently for another", () => {
    const bidder = bidderExpecting(10, 500);
    const pace = { budgetLeftMicros: 50_000, opportunitiesLeft: 500 };
    expect(decisions(9, bidder, pace)).toEqual(decisions(9, bidder, pace));
    expect(decisions(9, bidder, pace)).not.toEqual(decisions(10, bidder, pace));
    const again = bidderExpecting(800, 1000);
    expect(runPeriod(again, { low: 10, high: 50 }, 500, 5000)).toEqual(
      runPeriod(bidderExpecting(800, 1000), { low: 10, high: 50 }, 500, 5000),
    );
  });

  it("gives the bid per predicted response for the kernel, which multiplies it back", () => {
    const bidder = bidderExpecting(10, 500);
    const decision = decideBid(
      planBidding(bidder),
      { contextKey: "ctx", predictedResponse: 0.25 },
      { budgetLeftMicros: 50_000, opportunitiesLeft: 500 },
      createSeededRandom(1),
    );
    expect(decision.bidPerResponseMicros * 0.25).toBeCloseTo(decision.bidMicros);
  });
});
