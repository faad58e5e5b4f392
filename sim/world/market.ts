import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Advertiser,
  AdvertiserSchema,
  BidStrategy_Kind,
  type Campaign,
  CampaignSchema,
  type Creative,
  CreativeSchema,
  Goal,
  PacingMode,
} from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat, AgeBracket } from "../../gen/chorus/v1/common_pb.ts";
import { DEMO_GENRES, DEMO_MOODS } from "../../lib/demo/demo-catalog.ts";
import type { Rng } from "./rng.ts";
import type { Scenario } from "./scenario.ts";

/** What the advertisers are, as strategies see them (the catalog), plus the hidden truth about their value. */
export interface Market {
  advertisers: Advertiser[];
  campaigns: Campaign[];
  creatives: Creative[];
  /** Flight of each campaign in simulated ms (the catalog's timestamps are derived from it per run). */
  flights: Map<string, { startMs: number; endMs: number }>;
  /** Hidden: what one goal event (impression, completion or click) is worth to the advertiser, in micros. */
  valuePerGoalMicros: Map<string, number>;
  /** Hidden: a creative's quality, added to the log-odds of completion and clicks. */
  creativeQuality: Map<string, number>;
}

const CATEGORIES = ["IAB1", "IAB2", "IAB3", "IAB7", "IAB8", "IAB9", "IAB13", "IAB17", "IAB18", "IAB19", "IAB20"];
/** How often each goal's event happens per impression, on average: converts a CPM into a value per event. */
export const GOAL_RATE: Record<number, number> = {
  [Goal.IMPRESSIONS]: 1,
  [Goal.COMPLETIONS]: 0.7,
  [Goal.CLICKS]: 0.01,
};

/**
 * Expected impressions over the horizon if every break filled full pods: a rough supply estimate to size budgets
 * by (skips shorten the mean played track to about 2.8 minutes).
 */
export function expectedImpressions(s: Scenario): number {
  const musicMinutes = (1 - s.listeners.podcastShare) * s.listeners.meanTracksPerSession * 2.8;
  const podcastMinutes = s.listeners.podcastShare * Math.max(1, s.listeners.meanTracksPerSession / 5) * 35;
  const minutes = s.listeners.count * s.listeners.sessionsPerListener * (musicMinutes + podcastMinutes);
  return (minutes / s.publisher.breakEveryMinutes) * s.publisher.maxAdsPerBreak;
}

/**
 * Campaigns with budgets, flights (within the horizon), goals, bids and targeting. The catalog's flight timestamps
 * come from `toWallMs`, the strategy's view of the simulated clock; durations (frequency-cap windows) are divided
 * by its `speedup`.
 */
export function makeMarket(s: Scenario, rng: Rng, toWallMs: (simMs: number) => number, speedup = 1): Market {
  const horizonMs = s.horizonMinutes * 60_000;
  const m: Market = {
    advertisers: [],
    campaigns: [],
    creatives: [],
    flights: new Map(),
    valuePerGoalMicros: new Map(),
    creativeQuality: new Map(),
  };
  const bids: number[] = [];
  for (let a = 0; a < s.market.advertisers; a++) {
    const advertiserId = `sim-adv-${a}`;
    m.advertisers.push(create(AdvertiserSchema, { id: advertiserId, name: `Sim advertiser ${a}` }));
    for (let c = 0; c < s.market.campaignsPerAdvertiser; c++) {
      const id = `sim-cmp-${a}-${c}`;
      const goal = rng.pick([Goal.IMPRESSIONS, Goal.COMPLETIONS, Goal.CLICKS]);
      const maxCpm = Math.round(rng.uniform(5, 25)) * 1_000_000;
      bids.push(maxCpm);
      const [from, to] = rng.pick([
        [0, 1],
        [0, 1],
        [0, 0.5],
        [0.5, 1],
        [0.25, 0.75],
      ] as const);
      const flight = { startMs: from * horizonMs, endMs: to * horizonMs };
      m.flights.set(id, flight);
      // Advertisers value their goal a little above or below what their max bid implies.
      m.valuePerGoalMicros.set(id, ((maxCpm / 1000) * rng.uniform(0.7, 1.5)) / GOAL_RATE[goal]!);
      m.campaigns.push(
        create(CampaignSchema, {
          id,
          advertiserId,
          name: `Sim campaign ${a}.${c}`,
          budgetMicros: 1n, // sized below, once the bids are known
          startTime: timestampFromMs(toWallMs(flight.startMs)),
          endTime: timestampFromMs(toWallMs(flight.endMs)),
          pacing: rng.chance(0.8) ? PacingMode.EVEN : PacingMode.ASAP,
          goal,
          bidStrategy: {
            kind: rng.chance(0.5) ? BidStrategy_Kind.FIXED_CPM : BidStrategy_Kind.MAX_GOAL,
            maxCpmMicros: BigInt(maxCpm),
          },
          // One simulated hour, in the strategy's (possibly compressed) wall time, like the flights.
          frequencyCap: rng.chance(0.5)
            ? { maxImpressions: 2 + rng.int(3), windowSeconds: Math.max(1, Math.round(3600 / speedup)) }
            : undefined,
          targeting: {
            countries: rng.chance(0.3) ? [...new Set([rng.pick(["DE", "FR", "GB", "US", "SE", "ES"]), "US"])] : [],
            ageBrackets: rng.chance(0.25) ? [AgeBracket.AGE_BRACKET_18_24, AgeBracket.AGE_BRACKET_25_34] : [],
            genres: [...new Set(Array.from({ length: 1 + rng.int(3) }, () => rng.pick(DEMO_GENRES)))],
            moods: rng.chance(0.5) ? [rng.pick(DEMO_MOODS)] : [],
            requirePersonalizationConsent: rng.chance(0.15),
          },
        }),
      );
      const category = rng.pick(CATEGORIES);
      [AdFormat.AUDIO, AdFormat.AUDIO, AdFormat.VIDEO, AdFormat.INTERACTIVE].forEach((format, i) => {
        const crId = `sim-cr-${a}-${c}-${i}`;
        const video = format !== AdFormat.AUDIO;
        m.creativeQuality.set(crId, rng.normal(0, 0.5));
        m.creatives.push(
          create(CreativeSchema, {
            id: crId,
            campaignId: id,
            name: `Sim creative ${crId}`,
            format,
            durationMs: rng.pick([15_000, 20_000, 30_000]),
            iabCategory: `${category}-${1 + (i % 3)}`,
            mediaUrl: `https://cdn.sim.example/${crId}.${video ? "mp4" : "mp3"}`,
            mimeType: video ? "video/mp4" : "audio/mpeg",
            clickUrl: `https://advertiser-${a}.example/?c=${id}`,
          }),
        );
      });
    }
  }
  // Total budget = tightness x the expected supply at the mean max bid, split in proportion to flight length.
  const meanBid = bids.reduce((x, y) => x + y, 0) / bids.length;
  const total = s.market.budgetTightness * expectedImpressions(s) * (meanBid / 1000);
  const flightShare = (id: string) => {
    const f = m.flights.get(id)!;
    return (f.endMs - f.startMs) / horizonMs;
  };
  const shares = m.campaigns.map((c) => flightShare(c.id) * rng.uniform(0.5, 1.5));
  const sum = shares.reduce((x, y) => x + y, 0);
  m.campaigns.forEach((c, i) => {
    c.budgetMicros = BigInt(Math.max(1_000, Math.round((total * shares[i]!) / sum / 1000) * 1000));
  });
  return m;
}
