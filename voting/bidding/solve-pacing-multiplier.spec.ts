import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { estimateMarketPrice } from "./estimate-market-price.ts";
import { createMarketPriceModel, type MarketPriceModelOptions } from "./market-price-model.ts";
import { expectedSpendPerOpportunity, type PacingProblem, solvePacingMultiplier } from "./solve-pacing-multiplier.ts";

// Prices uniform over 1..100 micros.
const marketOptions: MarketPriceModelOptions = {
  bucketMicros: 1,
  bucketCount: 101,
  prior: Array.from({ length: 101 }, (_, i) => (i === 0 ? 0 : 1)),
  priorWeight: 1000,
  halfLife: 1e6,
};
const market = estimateMarketPrice(createMarketPriceModel(marketOptions), marketOptions);
const values = [
  { valueMicros: 10, share: 0.5 },
  { valueMicros: 40, share: 0.5 },
];
const problem = (budgetLeftMicros: number, opportunitiesLeft: number): PacingProblem => ({
  values,
  market,
  budgetLeftMicros,
  opportunitiesLeft,
  maxBidMicros: 100,
  minMultiplier: 1 / 256,
  maxMultiplier: 256,
});

describe("pacing multiplier - re-solved budget constraint", () => {
  it("spends the budget left per opportunity left, and no more", () => {
    const m = solvePacingMultiplier(problem(1000, 100)); // 10 micros per opportunity
    expect(expectedSpendPerOpportunity(values, market, m, 100)).toBeLessThanOrEqual(10);
    expect(expectedSpendPerOpportunity(values, market, m * 1.05, 100)).toBeGreaterThan(10);
  });

  it("lowers the multiplier when the campaign is ahead of plan (less budget per opportunity left)", () => {
    const onPlan = solvePacingMultiplier(problem(1000, 100));
    const ahead = solvePacingMultiplier(problem(500, 100));
    const behind = solvePacingMultiplier(problem(1500, 100));
    expect(ahead).toBeLessThan(onPlan);
    expect(behind).toBeGreaterThan(onPlan);
  });

  it("bids out an unspendable budget at the upper bound, and a nearly spent one only on the cheapest prices", () => {
    expect(solvePacingMultiplier(problem(1e9, 1))).toBe(256);
    const m = solvePacingMultiplier(problem(1, 1e6));
    expect(m * 40).toBeLessThan(2);
  });

  it("stays within its bounds and never plans to overspend, whatever the budget and opportunities", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e7 }), fc.integer({ min: 0, max: 1e5 }), (budget, opportunities) => {
        const p = problem(budget, opportunities);
        const m = solvePacingMultiplier(p);
        expect(m).toBeGreaterThanOrEqual(p.minMultiplier);
        expect(m).toBeLessThanOrEqual(p.maxMultiplier);
        if (m > p.minMultiplier)
          expect(expectedSpendPerOpportunity(values, market, m, Math.min(100, budget))).toBeLessThanOrEqual(
            budget / Math.max(1, opportunities) + 1e-9,
          );
      }),
    );
  });

  it("rejects inverted bounds", () => {
    expect(() => solvePacingMultiplier({ ...problem(10, 10), minMultiplier: 2, maxMultiplier: 1 })).toThrow(RangeError);
  });
});
