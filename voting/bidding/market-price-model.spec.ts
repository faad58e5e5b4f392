import { describe, expect, it } from "vitest";
import { estimateMarketPrice } from "./estimate-market-price.ts";
import {
  coveredBucket,
  createMarketPriceModel,
  type MarketPriceModelOptions,
  priceBucket,
  recordExactPrice,
  recordLostBid,
} from "./market-price-model.ts";
import { createSeededRandom } from "./seeded-random.ts";

const options: MarketPriceModelOptions = { bucketMicros: 10, bucketCount: 101, priorWeight: 10, halfLife: 1e9 };

/** True market: uniform over buckets 20..60 (prices 200..600 micros). */
const trueWinRate = (bucket: number) => Math.min(1, Math.max(0, (bucket - 19) / 41));

describe("market price model - censored learning", () => {
  it("maps prices and bids to buckets: a bid wins every price of the buckets it covers", () => {
    expect(priceBucket(options, 200)).toBe(20);
    expect(priceBucket(options, 201)).toBe(21);
    expect(coveredBucket(options, 209)).toBe(20);
    expect(coveredBucket(options, 5_000)).toBe(100);
    expect(priceBucket(options, 5_000)).toBe(100);
  });

  it("recovers the price distribution from wins and censored losses, where a naive histogram of wins does not", () => {
    const random = createSeededRandom(3);
    const model = createMarketPriceModel(options);
    const wonPrices: number[] = [];
    for (let i = 0; i < 40_000; i++) {
      const price = (20 + Math.floor(random() * 41)) * 10;
      const bid = Math.floor(random() * 700);
      if (bid >= price) {
        recordExactPrice(model, options, price);
        wonPrices.push(price);
      } else recordLostBid(model, options, bid);
    }
    const estimate = estimateMarketPrice(model, options);
    for (const bucket of [25, 40, 55])
      expect(Math.abs(estimate.winRate[bucket]! - trueWinRate(bucket))).toBeLessThan(0.03);
    // Cheap prices are won more often, so wins alone over-weight them.
    const naive = wonPrices.filter((p) => p <= 400).length / wonPrices.length;
    expect(naive - trueWinRate(40)).toBeGreaterThan(0.1);
    // Expected spend of a bid covering bucket 60 (wins everything): the mean price, 400.
    expect(estimate.spend[60]).toBeCloseTo(400, -1);
  });

  it("starts from the prior and forgets old prices after a market shift", () => {
    const prior = Array.from({ length: 101 }, (_, i) => (i === 50 ? 1 : 0));
    const shifting = { ...options, prior, halfLife: 500 };
    const model = createMarketPriceModel(shifting);
    expect(estimateMarketPrice(model, shifting).winRate[49]).toBe(0);
    expect(estimateMarketPrice(model, shifting).winRate[50]).toBeCloseTo(1);
    for (let i = 0; i < 5_000; i++) recordExactPrice(model, shifting, 100);
    for (let i = 0; i < 5_000; i++) recordExactPrice(model, shifting, 300);
    const estimate = estimateMarketPrice(model, shifting);
    expect(estimate.winRate[10]).toBeLessThan(0.01);
    expect(estimate.winRate[30]).toBeGreaterThan(0.9);
  });

  it("counts a loss only as 'price above the bid': it lowers the win rate up to the bid, not beyond", () => {
    const model = createMarketPriceModel(options);
    const before = estimateMarketPrice(model, options);
    for (let i = 0; i < 100; i++) recordLostBid(model, options, 300);
    const after = estimateMarketPrice(model, options);
    expect(after.winRate[30]).toBeLessThan(before.winRate[30]! / 5);
    expect(after.winRate[100]).toBeCloseTo(before.winRate[100]!);
  });

  it("keeps forgetting exact through rescaling of its weights", () => {
    const fast = { ...options, halfLife: 1, priorWeight: 0.001 };
    const model = createMarketPriceModel(fast);
    for (let i = 0; i < 200; i++) recordExactPrice(model, fast, i % 2 === 0 ? 100 : 500);
    expect(model.weight).toBeLessThanOrEqual(2 ** 33);
    expect(Number.isFinite(estimateMarketPrice(model, fast).spend[100]!)).toBe(true);
    // Each observation counts double the one before it: 500 holds 1 + 1/4 + ... = 2/3 of the mass.
    const estimate = estimateMarketPrice(model, fast);
    expect(estimate.winRate[50]! - estimate.winRate[49]!).toBeGreaterThan(0.6);
  });

  it("rejects options it cannot work with", () => {
    expect(() => createMarketPriceModel({ ...options, bucketCount: 1 })).toThrow(RangeError);
    expect(() => createMarketPriceModel({ ...options, prior: [1, 2] })).toThrow(RangeError);
    expect(() => createMarketPriceModel({ ...options, halfLife: 0 })).toThrow(RangeError);
  });
});
