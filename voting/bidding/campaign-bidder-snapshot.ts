import { type CampaignBidder, type CampaignBidderConfig, checkCampaignBidderConfig } from "./campaign-bidder.ts";
import type { ValueCalibration } from "./value-calibration.ts";
import { bucketCount } from "./value-distribution.ts";

/**
 * A campaign bidder as versioned plain data: JSON.stringify it into a JetStream KV entry, JSON.parse and
 * `restoreCampaignBidder` it after a restart. Restoring validates everything, so a corrupt or foreign entry fails
 * loudly with a `BidderSnapshotError` instead of producing NaN bids.
 */
export const BIDDER_SNAPSHOT_VERSION = 1;

export interface CampaignBidderSnapshot extends CampaignBidder {
  version: typeof BIDDER_SNAPSHOT_VERSION;
}

export class BidderSnapshotError extends Error {
  override readonly name = "BidderSnapshotError";
}

export function snapshotCampaignBidder(bidder: CampaignBidder): CampaignBidderSnapshot {
  return { version: BIDDER_SNAPSHOT_VERSION, ...structuredClone({ ...bidder, contexts: { ...bidder.contexts } }) };
}

/**
 * The snapshot as JSON, without the deep copy `snapshotCampaignBidder` makes (the text is the copy): the same
 * text as `JSON.stringify(snapshotCampaignBidder(bidder))`.
 */
export function campaignBidderJson(bidder: CampaignBidder): string {
  return JSON.stringify({ version: BIDDER_SNAPSHOT_VERSION, ...bidder });
}

export function restoreCampaignBidder(snapshot: unknown): CampaignBidder {
  const s = record(snapshot, "snapshot");
  if (s.version !== BIDDER_SNAPSHOT_VERSION)
    throw new BidderSnapshotError(`unsupported bidder snapshot version ${String(s.version)}`);
  const config = structuredClone(record(s.config, "config")) as unknown as CampaignBidderConfig;
  try {
    checkCampaignBidderConfig(config);
  } catch (cause) {
    throw new BidderSnapshotError(`invalid config: ${(cause as Error).message}`, { cause });
  }
  const market = record(s.market, "market");
  const values = record(s.values, "values");
  const contexts: Record<string, ValueCalibration> = Object.create(null);
  for (const [key, raw] of Object.entries(record(s.contexts, "contexts"))) {
    const c = record(raw, `contexts[${key}]`);
    contexts[key] = {
      responses: count(c.responses, "responses"),
      exposure: count(c.exposure, "exposure"),
      weight: weight(c.weight),
      lastSeen: count(c.lastSeen, "lastSeen"),
    };
  }
  return {
    config,
    market: {
      won: counts(market.won, config.market.bucketCount, "market.won"),
      lost: counts(market.lost, config.market.bucketCount, "market.lost"),
      weight: weight(market.weight),
    },
    values: {
      counts: counts(values.counts, bucketCount(config.values), "values.counts"),
      weight: weight(values.weight),
    },
    contexts,
    observations: count(s.observations, "observations"),
  };
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new BidderSnapshotError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function count(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new BidderSnapshotError(`${what} must be a finite number >= 0`);
  return value;
}

function weight(value: unknown): number {
  if (count(value, "weight") <= 0) throw new BidderSnapshotError("weight must be > 0");
  return value as number;
}

function counts(value: unknown, length: number, what: string): number[] {
  if (!Array.isArray(value) || value.length !== length)
    throw new BidderSnapshotError(`${what} must be an array of ${length} counts`);
  // A plain loop, the element's name only built on failure: gateways restore every campaign's buckets (~600 of
  // them) several times a second from the Bidding agent's signals.
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
      throw new BidderSnapshotError(`${what}[${i}] must be a finite number >= 0`);
  }
  return (value as number[]).slice();
}
