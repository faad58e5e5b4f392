import {
  checkMarketPriceOptions,
  createMarketPriceModel,
  type MarketPriceModel,
  type MarketPriceModelOptions,
  recordExactPrice,
  recordLostBid,
} from "./market-price-model.ts";
import {
  checkValueCalibrationOptions,
  createValueCalibration,
  meanMultiplier,
  recordResponses as recordContextResponses,
  recordExposure,
  type ValueCalibration,
  type ValueCalibrationOptions,
} from "./value-calibration.ts";
import {
  checkValueDistributionOptions,
  createValueDistribution,
  recordValue,
  type ValueDistribution,
  type ValueDistributionOptions,
} from "./value-distribution.ts";

/**
 * Everything the Bidding agent learns about one campaign, as plain serializable data (JSON, or one JetStream KV
 * entry per campaign): the market it bids into, the values it is offered, and one calibration per context.
 * `record*` functions update it in place (state.ts owns it); deciding reads it through `planBidding`.
 */
export interface CampaignBidder {
  config: CampaignBidderConfig;
  market: MarketPriceModel;
  values: ValueDistribution;
  /** Calibration per context key; a prototype-less object so that any key is safe. */
  contexts: Record<string, ValueCalibration>;
  /** Auctions recorded so far. */
  observations: number;
}

export interface CampaignBidderConfig {
  /** Highest bid per impression, in micros (e.g. the campaign's max CPM / 1000, the exchange's ceiling). */
  maxBidMicros: number;
  /** What one response is worth, in micros: value = predicted response x this x context multiplier. */
  valuePerResponseMicros: number;
  /** Bounds of the pacing multiplier (bid = multiplier x value). maxPacingMultiplier 1 = never bid above value. */
  minPacingMultiplier: number;
  maxPacingMultiplier: number;
  /** Contexts kept; the one idle longest is dropped beyond this. */
  maxContexts: number;
  market: MarketPriceModelOptions;
  values: ValueDistributionOptions;
  calibration: ValueCalibrationOptions;
}

/** The required settings of a campaign, and any default to override. */
export type CampaignBidderSettings = Pick<CampaignBidderConfig, "maxBidMicros" | "valuePerResponseMicros"> &
  Partial<Omit<CampaignBidderConfig, "market" | "values" | "calibration">> & {
    market?: Partial<MarketPriceModelOptions>;
    values?: Partial<ValueDistributionOptions>;
    calibration?: Partial<ValueCalibrationOptions>;
  };

const MARKET_BUCKETS = 301;

/** The defaults and why are in README.md ("Parameters"). */
export function campaignBidderConfig(settings: CampaignBidderSettings): CampaignBidderConfig {
  const { market, values, calibration, ...rest } = settings;
  const config: CampaignBidderConfig = {
    minPacingMultiplier: 1 / 256,
    maxPacingMultiplier: 256,
    maxContexts: 10_000,
    ...rest,
    market: {
      bucketMicros: Math.max(1, Math.ceil(settings.maxBidMicros / (MARKET_BUCKETS - 1))),
      bucketCount: MARKET_BUCKETS,
      priorWeight: 1000,
      halfLife: 20_000,
      ...market,
    },
    values: { minValueMicros: 1, bucketsPerOctave: 8, octaves: 40, halfLife: 20_000, ...values },
    calibration: {
      priorResponses: 20,
      halfLife: 1000,
      maxExploration: 0.2,
      minMultiplier: 0.25,
      maxMultiplier: 4,
      ...calibration,
    },
  };
  checkCampaignBidderConfig(config);
  return config;
}

export function checkCampaignBidderConfig(config: CampaignBidderConfig): void {
  const { maxBidMicros, valuePerResponseMicros, minPacingMultiplier, maxPacingMultiplier, maxContexts } = config;
  if (!Number.isInteger(maxBidMicros) || maxBidMicros < 0) throw new RangeError("maxBidMicros must be an integer >= 0");
  if (!(valuePerResponseMicros > 0) || !Number.isFinite(valuePerResponseMicros))
    throw new RangeError("valuePerResponseMicros must be > 0");
  if (
    !(minPacingMultiplier > 0) ||
    !(maxPacingMultiplier >= minPacingMultiplier) ||
    !Number.isFinite(maxPacingMultiplier)
  )
    throw new RangeError("need 0 < minPacingMultiplier <= maxPacingMultiplier < Infinity");
  if (!Number.isInteger(maxContexts) || maxContexts < 1) throw new RangeError("maxContexts must be >= 1");
  checkMarketPriceOptions(config.market);
  checkValueDistributionOptions(config.values);
  checkValueCalibrationOptions(config.calibration);
}

export function createCampaignBidder(config: CampaignBidderConfig): CampaignBidder {
  checkCampaignBidderConfig(config);
  return {
    config,
    market: createMarketPriceModel(config.market),
    values: createValueDistribution(config.values),
    contexts: Object.create(null),
    observations: 0,
  };
}

/**
 * One auction the campaign took part in. `bidMicros` is the bid actually sent (after every cap), per impression.
 * A loss usually carries no price: the bidder only learns that the price was above its bid (censored feedback).
 * When the auction does reveal what it would have taken to win, pass it as `priceToBeatMicros`.
 */
export type AuctionRecord = {
  contextKey: string;
  predictedResponse: number;
  bidMicros: number;
} & ({ won: true; priceMicros: number } | { won: false; priceToBeatMicros?: number });

/** The value an offer has for the campaign, with the context's current calibration (no exploration). */
export function offerValueMicros(bidder: CampaignBidder, contextKey: string, predictedResponse: number): number {
  const context = bidder.contexts[contextKey];
  const multiplier = context ? meanMultiplier(context, bidder.config.calibration) : 1;
  return predictedResponse * bidder.config.valuePerResponseMicros * multiplier;
}

/** Learns from one auction outcome. Updates the bidder in place. */
export function recordAuction(bidder: CampaignBidder, auction: AuctionRecord): void {
  const { config } = bidder;
  recordValue(bidder.values, config.values, offerValueMicros(bidder, auction.contextKey, auction.predictedResponse));
  if (auction.won) recordExactPrice(bidder.market, config.market, auction.priceMicros);
  else if (auction.priceToBeatMicros !== undefined && auction.priceToBeatMicros > auction.bidMicros)
    recordExactPrice(bidder.market, config.market, auction.priceToBeatMicros);
  else recordLostBid(bidder.market, config.market, auction.bidMicros);
  bidder.observations++;
  const context = touchContext(bidder, auction.contextKey);
  if (auction.won) recordExposure(context, config.calibration, auction.predictedResponse);
}

/** `count` responses to impressions won in a context (they may arrive long after the auction). */
export function recordResponses(bidder: CampaignBidder, contextKey: string, count: number): void {
  recordContextResponses(touchContext(bidder, contextKey), count);
}

function touchContext(bidder: CampaignBidder, key: string): ValueCalibration {
  let context = bidder.contexts[key];
  if (!context) {
    context = createValueCalibration(bidder.observations);
    bidder.contexts[key] = context;
    evictIdleContexts(bidder);
  }
  context.lastSeen = bidder.observations;
  return context;
}

function evictIdleContexts(bidder: CampaignBidder): void {
  const keys = Object.keys(bidder.contexts);
  if (keys.length <= bidder.config.maxContexts) return;
  let idlest = keys[0]!;
  for (const key of keys) if (bidder.contexts[key]!.lastSeen < bidder.contexts[idlest]!.lastSeen) idlest = key;
  delete bidder.contexts[idlest];
}
