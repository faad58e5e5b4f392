import { createSeededRandom } from "../../voting/bidding/seeded-random.ts";
import type { AuctionLog, IpinyouDataset, TrainingStats } from "./auction-log.ts";

/**
 * A synthetic iPinYou-like data set for tests, so that CI never needs ../shared: pCTRs log-normal around 0.4%,
 * market prices from a price-unit histogram shaped like the real one (a spike of cheap prices, a long tail up to
 * 300) and mildly rising with pCTR, clicks drawn from the pCTR. Training statistics come from a separate sample.
 */
export function syntheticDataset(auctions: number, seed: number): IpinyouDataset {
  const random = createSeededRandom(seed);
  const draw = (n: number): AuctionLog => {
    const log: AuctionLog = { clicks: new Uint8Array(n), prices: new Uint16Array(n), pctrs: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const pctr = Math.min(0.05, 0.004 * Math.exp(0.5 * normal - 0.125));
      const base = random() < 0.15 ? 6 : Math.floor(-60 * Math.log(1 - random()));
      log.pctrs[i] = pctr;
      log.prices[i] = Math.min(300, Math.round(base * (0.8 + 50 * pctr)));
      log.clicks[i] = random() < pctr ? 1 : 0;
    }
    return log;
  };
  const train = draw(2 * auctions);
  const priceHistogram = new Array<number>(301).fill(0);
  for (const price of train.prices) priceHistogram[price]! += 1;
  const training: TrainingStats = {
    impressions: train.prices.length,
    clicks: train.clicks.reduce((a, b) => a + b, 0),
    cost: train.prices.reduce((a, b) => a + b, 0),
    priceHistogram,
  };
  return { dir: "(synthetic)", log: draw(auctions), training, sha256: "" };
}
