import { describe, expect, it } from "vitest";
import {
  type CampaignBidder,
  campaignBidderConfig,
  createCampaignBidder,
  recordAuction,
  recordResponses,
} from "./campaign-bidder.ts";
import {
  BidderSnapshotError,
  campaignBidderJson,
  restoreCampaignBidder,
  snapshotCampaignBidder,
} from "./campaign-bidder-snapshot.ts";
import { decideBid } from "./decide-bid.ts";
import { planBidding } from "./plan-bidding.ts";
import { createSeededRandom } from "./seeded-random.ts";

function trainedBidder(): CampaignBidder {
  const bidder = createCampaignBidder(campaignBidderConfig({ maxBidMicros: 3_000_000, valuePerResponseMicros: 2e8 }));
  const random = createSeededRandom(2);
  for (let i = 0; i < 3000; i++) {
    const contextKey = `site-${i % 7}`;
    const predictedResponse = 0.001 + 0.01 * random();
    const bidMicros = Math.floor(3_000_000 * random());
    const price = Math.floor(2_000_000 * random());
    if (bidMicros >= price) {
      recordAuction(bidder, { contextKey, predictedResponse, bidMicros, won: true, priceMicros: price });
      if (random() < 0.01) recordResponses(bidder, contextKey, 1);
    } else recordAuction(bidder, { contextKey, predictedResponse, bidMicros, won: false });
  }
  return bidder;
}

const bids = (bidder: CampaignBidder) => {
  const random = createSeededRandom(77);
  const plan = planBidding(bidder);
  return Array.from(
    { length: 20 },
    (_, i) =>
      decideBid(
        plan,
        { contextKey: `site-${i % 9}`, predictedResponse: 0.002 * (i + 1) },
        { budgetLeftMicros: 5e8, opportunitiesLeft: 1000 },
        random,
      ).bidMicros,
  );
};

describe("campaign bidder snapshot - plain data for JetStream KV", () => {
  it("round-trips through JSON to a bidder that decides exactly the same", () => {
    const bidder = trainedBidder();
    const json = JSON.stringify(snapshotCampaignBidder(bidder));
    const restored = restoreCampaignBidder(JSON.parse(json));
    expect(restored).toEqual(bidder);
    expect(bids(restored)).toEqual(bids(bidder));
    // And it keeps learning from where it was.
    recordAuction(restored, { contextKey: "site-1", predictedResponse: 0.01, bidMicros: 10, won: false });
    recordAuction(bidder, { contextKey: "site-1", predictedResponse: 0.01, bidMicros: 10, won: false });
    expect(restored).toEqual(bidder);
  });

  it("is a copy: later learning does not change a snapshot taken before", () => {
    const bidder = trainedBidder();
    const snapshot = snapshotCampaignBidder(bidder);
    const before = JSON.stringify(snapshot);
    recordAuction(bidder, { contextKey: "site-1", predictedResponse: 0.01, bidMicros: 10, won: true, priceMicros: 5 });
    expect(JSON.stringify(snapshot)).toBe(before);
  });

  it("rejects a corrupt or foreign entry with a BidderSnapshotError instead of bidding NaN", () => {
    const good = JSON.parse(JSON.stringify(snapshotCampaignBidder(trainedBidder())));
    const broken = [
      null,
      { ...good, version: 2 },
      { ...good, market: { ...good.market, won: good.market.won.slice(1) } },
      { ...good, values: { ...good.values, weight: 0 } },
      { ...good, contexts: { "site-1": { responses: -1, exposure: 0, weight: 1, lastSeen: 0 } } },
      { ...good, config: { ...good.config, maxBidMicros: -5 } },
      { ...good, observations: "many" },
    ];
    for (const entry of broken) expect(() => restoreCampaignBidder(entry)).toThrow(BidderSnapshotError);
  });

  it("writes the snapshot's JSON without copying first, the same text, odd context keys included", () => {
    const bidder = trainedBidder();
    recordAuction(bidder, { contextKey: "__proto__", predictedResponse: 0.01, bidMicros: 10, won: false });
    expect(campaignBidderJson(bidder)).toBe(JSON.stringify(snapshotCampaignBidder(bidder)));
  });

  it("names the bucket that is corrupt", () => {
    const good = JSON.parse(campaignBidderJson(trainedBidder()));
    good.market.won[3] = -1;
    expect(() => restoreCampaignBidder(good)).toThrow(/market\.won\[3\]/);
  });

  it("accepts any context key, __proto__ included, without touching prototypes", () => {
    const bidder = trainedBidder();
    const contextKey = "__proto__";
    recordAuction(bidder, { contextKey, predictedResponse: 0.01, bidMicros: 10, won: true, priceMicros: 5 });
    const restored = restoreCampaignBidder(JSON.parse(JSON.stringify(snapshotCampaignBidder(bidder))));
    expect(Object.hasOwn(restored.contexts, contextKey)).toBe(true);
    expect(restored.contexts[contextKey]?.exposure).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>).exposure).toBeUndefined();
  });
});
