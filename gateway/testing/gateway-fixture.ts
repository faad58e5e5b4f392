import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AdvertiserSchema,
  BidStrategy_Kind,
  CampaignSchema,
  CreativeSchema,
  Goal,
  PacingMode,
} from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { Pseudonyms } from "../../lib/privacy/pseudonyms.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { newEventTokenKey } from "../auth/event-token.ts";
import { type GatewayAuth, openGatewayAuth } from "../auth/gateway-auth.ts";
import type { RoleRateLimits } from "../auth/rate-limiter.ts";
import { NatsPlaybackSink } from "../playback/nats-playback-sink.ts";
import { type Gateway, type GatewayOptions, startGateway } from "../start-gateway.ts";
import { InventoryPodEngine } from "./inventory-pod-engine.ts";
import { MemoryEventSink } from "./memory-event-sink.ts";

/** The fixture gateway's pseudonyms (a fixed test key): tests compute what reaches NATS with it. */
export const TEST_PSEUDONYMS = new Pseudonyms("gateway-fixture-test-key");

/** The keys every gateway fixture starts with (advertiser: "acme", the seeded advertiser). */
export interface FixtureKeys {
  admin: string;
  decide: string;
  reader: string;
  advertiser: string;
}

export interface GatewayFixture {
  nats: NatsFixture;
  trust: GatewayAuth;
  keys: FixtureKeys;
  store: CatalogStore;
  view: CatalogView;
  events: MemoryEventSink;
  gateway: Gateway;
  cleanup(): Promise<void>;
}

/**
 * A gateway on a free port over a real nats-server: catalog in JetStream KV (three audio creatives seeded), the
 * inventory test engine unless `engine` is given, playback published on NATS, events kept in memory. With `on`,
 * the gateway joins an existing server and catalog (an agent mesh's) instead: nothing is seeded, and cleanup leaves
 * them to their owner.
 */
export async function startGatewayFixture(
  overrides: Partial<
    Pick<
      GatewayOptions,
      "engine" | "limits" | "fastPath" | "tls" | "idempotency" | "publicUrl" | "creatives" | "playback" | "rpcBounds"
    >
  > & {
    rateLimits?: RoleRateLimits;
    reflectionNeedsKey?: boolean;
    on?: { nats: NatsFixture; view: CatalogView };
  } = {},
): Promise<GatewayFixture> {
  const shared = overrides.on;
  const nats = shared?.nats ?? (await startNats());
  const trust = await openGatewayAuth(nats.js, {
    eventTokenKeys: newEventTokenKey("test"),
    rateLimits: overrides.rateLimits,
    reflectionNeedsKey: overrides.reflectionNeedsKey,
  });
  const make = async (role: "admin" | "decide" | "reader" | "advertiser") => {
    const { record, key } = await trust.apiKeys.admin.create({
      name: `test ${role}`,
      role,
      advertiserId: role === "advertiser" ? "acme" : undefined,
    });
    await trust.apiKeys.directory.waitFor(record.id, (r) => r !== undefined);
    return key;
  };
  const keys = { admin: await make("admin"), decide: await make("decide"), reader: await make("reader") };
  const advertiserKey = await make("advertiser");
  const store = new CatalogStore(await openCatalogBucket(nats.js));
  let view = shared?.view;
  if (!view) {
    await seedCatalog(store);
    view = await CatalogView.open(await openCatalogBucket(nats.js));
    await view.waitFor((inventory) => inventory.size === 3);
  }
  const events = new MemoryEventSink();
  const gateway = await startGateway({
    host: "127.0.0.1",
    port: 0,
    engine: overrides.engine ?? new InventoryPodEngine(view),
    events,
    playback: overrides.playback ?? new NatsPlaybackSink(nats.nc),
    catalog: store,
    pseudonyms: TEST_PSEUDONYMS,
    logger: createLogger("gateway-test", process.env.LOG_LEVEL ?? "silent"),
    auth: trust.auth,
    apiKeys: trust.apiKeys,
    eventTokens: trust.eventTokens,
    idempotency: overrides.idempotency,
    tls: overrides.tls,
    limits: { drainTimeoutMs: 1_000, ...overrides.limits },
    rpcBounds: overrides.rpcBounds,
    fastPath: overrides.fastPath,
    publicUrl: overrides.publicUrl,
    creatives: overrides.creatives,
  });
  return {
    nats,
    trust,
    keys: { ...keys, advertiser: advertiserKey },
    store,
    view,
    events,
    gateway,
    async cleanup() {
      await gateway.close();
      trust.close();
      if (shared) return;
      view.close();
      await nats.cleanup();
    },
  };
}

async function seedCatalog(store: CatalogStore): Promise<void> {
  await store.create("advertiser", create(AdvertiserSchema, { id: "acme", name: "Acme" }));
  await store.create("campaign", testCampaign("spring", "acme"));
  for (const [id, durationMs] of [
    ["cr-a", 15_000],
    ["cr-b", 30_000],
    ["cr-c", 20_000],
  ] as const)
    await store.create(
      "creative",
      create(CreativeSchema, {
        id,
        campaignId: "spring",
        name: id,
        format: AdFormat.AUDIO,
        durationMs,
        iabCategory: "IAB2",
        mediaUrl: `https://cdn.example.com/${id}.mp3`,
        tracking: { impression: [`https://t.example.com/i/${id}`] },
      }),
    );
}

export function testCampaign(id: string, advertiserId: string) {
  return create(CampaignSchema, {
    id,
    advertiserId,
    name: `Campaign ${id}`,
    budgetMicros: 50_000_000n,
    dailyBudgetMicros: 5_000_000n,
    startTime: timestampFromDate(new Date("2026-01-01T00:00:00Z")),
    endTime: timestampFromDate(new Date("2027-01-01T00:00:00Z")),
    pacing: PacingMode.EVEN,
    bidStrategy: { kind: BidStrategy_Kind.FIXED_CPM, maxCpmMicros: 2_000_000n },
    goal: Goal.IMPRESSIONS,
  });
}
