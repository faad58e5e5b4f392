import { advanceForgetting, scaleCounts } from "./forgetting-weight.ts";

/**
 * What one campaign has seen of the market price (the price it pays when it wins, i.e. the highest competing bid
 * or the floor) as a histogram of price buckets learned online from its own auctions. A win reveals the price
 * exactly; a loss reveals only that the price was above the bid (right-censored), so the two are counted apart and
 * combined by `estimateMarketPrice` (Kaplan-Meier) instead of being mixed into one biased histogram.
 *
 * Bucket i holds prices in ((i - 1) * bucketMicros, i * bucketMicros]; the last bucket also holds every higher
 * price. With integer prices and bucketMicros = the price unit, bucket i is exactly price i.
 */
export interface MarketPriceModelOptions {
  /** Width of a price bucket, in micros per impression. */
  bucketMicros: number;
  /** Number of buckets; (bucketCount - 1) * bucketMicros should be at least the highest bid. */
  bucketCount: number;
  /** Prior histogram of market prices, one entry per bucket, any scale; flat when absent. */
  prior?: number[];
  /** How many observations the prior is worth. It is never forgotten: it anchors buckets the campaign never bids in. */
  priorWeight: number;
  /** Observations after which an observation counts half (markets drift over the day). */
  halfLife: number;
}

export interface MarketPriceModel {
  /** Weighted wins per bucket of the price paid (exact observations). */
  won: number[];
  /** Weighted losses per bucket of the bid: the price was in a higher bucket. */
  lost: number[];
  /** Forgetting clock (see forgetting-weight.ts). */
  weight: number;
}

export function createMarketPriceModel(options: MarketPriceModelOptions): MarketPriceModel {
  checkMarketPriceOptions(options);
  return { won: new Array(options.bucketCount).fill(0), lost: new Array(options.bucketCount).fill(0), weight: 1 };
}

export function checkMarketPriceOptions(options: MarketPriceModelOptions): void {
  const { bucketMicros, bucketCount, prior, priorWeight, halfLife } = options;
  if (!Number.isInteger(bucketMicros) || bucketMicros <= 0) throw new RangeError("market: bucketMicros must be > 0");
  if (!Number.isInteger(bucketCount) || bucketCount < 2) throw new RangeError("market: bucketCount must be >= 2");
  if (!(priorWeight > 0) || !(halfLife > 0)) throw new RangeError("market: priorWeight and halfLife must be > 0");
  if (prior !== undefined) {
    if (prior.length !== bucketCount) throw new RangeError("market: prior needs one entry per bucket");
    if (!prior.every((c) => Number.isFinite(c) && c >= 0) || !prior.some((c) => c > 0))
      throw new RangeError("market: prior entries must be >= 0 and not all 0");
  }
}

/** The bucket a paid price falls in. */
export function priceBucket(options: MarketPriceModelOptions, priceMicros: number): number {
  return Math.min(options.bucketCount - 1, Math.max(0, Math.ceil(priceMicros / options.bucketMicros)));
}

/** The highest bucket a bid is sure to cover (it wins every price up to that bucket's upper edge). */
export function coveredBucket(options: MarketPriceModelOptions, bidMicros: number): number {
  return Math.min(options.bucketCount - 1, Math.max(0, Math.floor(bidMicros / options.bucketMicros)));
}

/**
 * An exact market price: the price paid on a win, or, on a loss, what it would have taken to win when the auction
 * tells (Chorus's own kernel does; an exchange usually does not). Updates the model in place.
 */
export function recordExactPrice(model: MarketPriceModel, options: MarketPriceModelOptions, priceMicros: number): void {
  const weight = advanceForgetting(model, options.halfLife, (f) => rescale(model, f));
  model.won[priceBucket(options, priceMicros)] += weight;
}

/** A lost auction: the price was above `bidMicros`, nothing more is known. Updates the model in place. */
export function recordLostBid(model: MarketPriceModel, options: MarketPriceModelOptions, bidMicros: number): void {
  const weight = advanceForgetting(model, options.halfLife, (f) => rescale(model, f));
  model.lost[coveredBucket(options, bidMicros)] += weight;
}

function rescale(model: MarketPriceModel, factor: number): void {
  scaleCounts(model.won, factor);
  scaleCounts(model.lost, factor);
}
