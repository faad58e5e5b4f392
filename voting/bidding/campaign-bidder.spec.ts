import { describe, expect, it } from "vitest";
import { campaignBidderConfig, createCampaignBidder, offerValueMicros, recordAuction } from "./campaign-bidder.ts";
import { planBidding } from "./plan-bidding.ts";

const config = (maxContexts = 10_000) =>
  campaignBidderConfig({
    maxBidMicros: 1000,
    valuePerResponseMicros: 1000,
    maxContexts,
    market: { bucketMicros: 10, bucketCount: 101 },
  });

describe("campaign bidder - what one campaign learns", () => {
  it("learns the values it is offered, won or lost", () => {
    const bidder = createCampaignBidder(config());
    for (let i = 0; i < 100; i++)
      recordAuction(bidder, { contextKey: "a", predictedResponse: 0.1, bidMicros: 0, won: false });
    const { values } = planBidding(bidder);
    expect(values).toHaveLength(1);
    expect(values[0]!.valueMicros / 100).toBeGreaterThan(0.95);
    expect(values[0]!.valueMicros / 100).toBeLessThan(1.05);
    expect(offerValueMicros(bidder, "a", 0.1)).toBe(100);
  });

  it("learns an exact price from a loss whose price to beat is known, a censored one otherwise", () => {
    const exact = createCampaignBidder(config());
    const censored = createCampaignBidder(config());
    for (let i = 0; i < 500; i++) {
      const common = { contextKey: "a", predictedResponse: 0.1, bidMicros: 100, won: false } as const;
      recordAuction(exact, { ...common, priceToBeatMicros: 300 });
      recordAuction(censored, common);
    }
    const exactPlan = planBidding(exact);
    expect(exactPlan.market.winRate[30]! - exactPlan.market.winRate[29]!).toBeGreaterThan(0.3);
    const censoredPlan = planBidding(censored);
    const priorOnly = planBidding(createCampaignBidder(config()));
    expect(censoredPlan.market.winRate[10]).toBeLessThan(0.7 * priorOnly.market.winRate[10]!);
    expect(censoredPlan.market.winRate[30]! - censoredPlan.market.winRate[29]!).toBeLessThan(0.05);
  });

  it("keeps at most maxContexts contexts, dropping the one idle longest", () => {
    const bidder = createCampaignBidder(config(3));
    for (const contextKey of ["a", "b", "c", "a", "d"])
      recordAuction(bidder, { contextKey, predictedResponse: 0.1, bidMicros: 100, won: true, priceMicros: 50 });
    expect(Object.keys(bidder.contexts).sort()).toEqual(["a", "c", "d"]);
  });

  it("rejects settings it cannot bid with", () => {
    expect(() => campaignBidderConfig({ maxBidMicros: 1.5, valuePerResponseMicros: 1 })).toThrow(RangeError);
    expect(() => campaignBidderConfig({ maxBidMicros: 10, valuePerResponseMicros: 0 })).toThrow(RangeError);
    expect(() =>
      campaignBidderConfig({ maxBidMicros: 10, valuePerResponseMicros: 1, maxPacingMultiplier: Infinity }),
    ).toThrow(RangeError);
  });
});
