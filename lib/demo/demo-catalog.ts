import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
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
import { AdFormat, AgeBracket, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import type { CatalogStore } from "../catalog/catalog-store.ts";
import { createSeededRandom } from "../random/seeded-random.ts";

export const DEMO_GENRES = [
  "pop",
  "rock",
  "hip-hop",
  "jazz",
  "classical",
  "electronic",
  "indie",
  "true-crime",
  "news",
  "comedy",
];
export const DEMO_MOODS = ["chill", "energetic", "focus", "happy", "melancholic", "party"];
const CATEGORIES = [
  "IAB1",
  "IAB2",
  "IAB3",
  "IAB7",
  "IAB8",
  "IAB9",
  "IAB13",
  "IAB17",
  "IAB18",
  "IAB19",
  "IAB20",
  "IAB22",
];
const COUNTRIES = ["DE", "FR", "GB", "US", "SE", "ES"];

export interface DemoCatalog {
  advertisers: Advertiser[];
  campaigns: Campaign[];
  creatives: Creative[];
}

/**
 * A demo catalog: `advertisers` advertisers with a few campaigns each, every campaign with audio, video and
 * interactive creatives, varied targeting, budgets, pacing modes and caps. Flights run from `nowMs` for `days`.
 * `budgetScale` multiplies every budget: a long soak needs budgets that last it (the demo's run out in minutes at a
 * few hundred decisions a second, and the sold share, with the work behind it, falls as they do).
 */
export function demoCatalog({
  advertisers = 12,
  campaignsPerAdvertiser = 3,
  creativesPerCampaign = 4,
  seed = 7,
  nowMs = Date.now(),
  days = 30,
  budgetScale = 1,
} = {}): DemoCatalog {
  const rnd = createSeededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const some = <T>(xs: readonly T[], max: number) => [
    ...new Set(Array.from({ length: 1 + Math.floor(rnd() * max) }, () => pick(xs))),
  ];
  const out: DemoCatalog = { advertisers: [], campaigns: [], creatives: [] };
  const start = Math.floor(nowMs / 3_600_000) * 3_600_000 - 3_600_000;
  for (let a = 0; a < advertisers; a++) {
    const advertiserId = `adv-${a}`;
    out.advertisers.push(
      create(AdvertiserSchema, {
        id: advertiserId,
        name: `Advertiser ${a}`,
        blockedGenres: a % 4 === 0 ? ["true-crime"] : [],
      }),
    );
    for (let c = 0; c < campaignsPerAdvertiser; c++) {
      const campaignId = `cmp-${a}-${c}`;
      const budget = BigInt(Math.round(200 + rnd() * 2_000)) * 1_000_000n * BigInt(budgetScale);
      out.campaigns.push(
        create(CampaignSchema, {
          id: campaignId,
          advertiserId,
          name: `Campaign ${a}.${c}`,
          budgetMicros: budget,
          dailyBudgetMicros: budget / BigInt(Math.max(1, days - 5)),
          startTime: timestampFromMs(start),
          endTime: timestampFromMs(start + days * 86_400_000),
          pacing: pick([PacingMode.EVEN, PacingMode.EVEN, PacingMode.TRAFFIC_SHAPED, PacingMode.ASAP]),
          goal: pick([Goal.IMPRESSIONS, Goal.COMPLETIONS, Goal.CLICKS]),
          bidStrategy: {
            kind: pick([BidStrategy_Kind.FIXED_CPM, BidStrategy_Kind.MAX_GOAL]),
            maxCpmMicros: BigInt(Math.round(4 + rnd() * 20)) * 1_000_000n,
          },
          frequencyCap: rnd() < 0.6 ? { maxImpressions: 1 + Math.floor(rnd() * 4), windowSeconds: 3600 } : undefined,
          targeting: {
            countries: rnd() < 0.5 ? some(COUNTRIES, 3) : [],
            ageBrackets: rnd() < 0.3 ? [AgeBracket.AGE_BRACKET_18_24, AgeBracket.AGE_BRACKET_25_34] : [],
            deviceTypes: rnd() < 0.2 ? [DeviceType.PHONE, DeviceType.TABLET] : [],
            genres: some(DEMO_GENRES, 3),
            moods: rnd() < 0.5 ? some(DEMO_MOODS, 2) : [],
            contentKinds: rnd() < 0.3 ? [pick([ContentKind.MUSIC, ContentKind.PODCAST])] : [],
            requirePersonalizationConsent: rnd() < 0.2,
          },
        }),
      );
      const category = pick(CATEGORIES);
      const kinds = [AdFormat.AUDIO, AdFormat.AUDIO, AdFormat.VIDEO, AdFormat.INTERACTIVE];
      const formats = Array.from({ length: creativesPerCampaign }, (_, i) => kinds[i % kinds.length]!);
      formats.forEach((format, i) => {
        const id = `cr-${a}-${c}-${i}`;
        const video = format !== AdFormat.AUDIO;
        out.creatives.push(
          create(CreativeSchema, {
            id,
            campaignId,
            name: `Creative ${id}`,
            format,
            durationMs: pick([10_000, 15_000, 20_000, 30_000]),
            iabCategory: `${category}-${1 + (i % 3)}`,
            explicit: a % 7 === 3 && i === 1,
            mediaUrl: `https://cdn.chorus.example/${id}.${video ? "mp4" : "mp3"}`,
            mimeType: video ? "video/mp4" : "audio/mpeg",
            clickUrl: `https://advertiser-${a}.example/landing?c=${campaignId}`,
            tracking: { impression: [`https://track.chorus.example/imp?cr=${id}`] },
            width: video ? 1280 : 0,
            height: video ? 720 : 0,
          }),
        );
      });
    }
  }
  return out;
}

/**
 * Writes the catalog; entities that already exist are left as they are (re-running the demo is harmless).
 * `concurrency` writes at once (large catalogs: 100,000 creatives one by one take minutes).
 */
export async function loadDemoCatalog(
  store: CatalogStore,
  catalog: DemoCatalog,
  { concurrency = 1 } = {},
): Promise<void> {
  const put = async <K extends "advertiser" | "campaign" | "creative">(
    kind: K,
    entity: Parameters<CatalogStore["create"]>[1] & { id: string },
  ) => {
    // One round trip: create, and an entity already there (a restarted demo) is kept as it is.
    await store.create(kind, entity as never).catch((err: unknown) => {
      if (!(err instanceof ConnectError && err.code === Code.AlreadyExists)) throw err;
    });
  };
  // A window of `concurrency` writes in flight (not batches: one slow write does not hold the next batch back).
  const all = async <K extends "advertiser" | "campaign" | "creative">(
    kind: K,
    entities: readonly (Parameters<CatalogStore["create"]>[1] & { id: string })[],
  ) => {
    let next = 0;
    const worker = async () => {
      while (next < entities.length) await put(kind, entities[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, entities.length) }, worker));
  };
  await all("advertiser", catalog.advertisers);
  await all("campaign", catalog.campaigns);
  await all("creative", catalog.creatives);
}
