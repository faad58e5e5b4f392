/**
 * State snapshots under NATS's max payload at any scale, against a real nats-server: the Intent agent's state for
 * 1,000,000 listeners (16 user shards of 62,500 profiles) is stored through AgentStateStore in pieces, every KV
 * value fits the server's max payload and every shard restores whole; the ledger's snapshot of 5,000 campaigns x
 * 60 days is stored in content-addressed pieces under a small head, a running ledger restarts from it, applies new
 * events on top (rewriting only the changed groups) and answers a query for every campaign within one message.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignImpressionsSchema, UserProfileSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { AdEventSchema, AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import {
  CampaignSpendSchema,
  DaySpendSchema,
  LedgerEntrySchema,
  LedgerSnapshotSchema,
} from "../../gen/chorus/v1/ledger_pb.ts";
import { Ledger, queryLedger } from "../../ledger/ledger.ts";
import { ensureLedgerStreams, openLedgerBucket } from "../../ledger/ledger-streams.ts";
import { readStoredTotals, SNAPSHOT_KEY, SnapshotWriter } from "../../ledger/snapshot-store.ts";
import { SpendTotals, utcDay } from "../../ledger/spend-totals.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { subjects, USER_SHARDS, userShard } from "../../lib/subjects.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { intentAgent } from "../../voting/intent/agent.ts";
import { createIntentState } from "../../voting/intent/state.ts";
import { withLimits } from "../../voting/limits/state-limits.ts";
import { AgentStateStore, openAgentStateBucket } from "../../voting/mirror/agent-state-store.ts";

const log = createLogger("snapshots-at-scale", "silent");
const NOW = Date.UTC(2026, 11, 6, 8);

describe("snapshots at scale", () => {
  let nats: NatsFixture;
  let maxPayload: number;
  beforeAll(async () => {
    nats = await startNats();
    maxPayload = nats.nc.info!.max_payload;
  });
  afterAll(async () => {
    await nats?.cleanup();
  });

  it("Intent with 1,000,000 listeners: every stored value fits the max payload; every shard restores", async () => {
    const kv = await openAgentStateBucket(nats.js);
    const store = new AgentStateStore(kv, log, "test", maxPayload);
    const limits = withLimits({ maxProfiles: 100_000 });
    const perShard = new Array<number>(USER_SHARDS).fill(0);
    const ids: string[][] = Array.from({ length: USER_SHARDS }, () => []);
    for (let i = 0; i < 1_000_000; i++) {
      // Pseudonym-shaped ids (the gateway's, lib/privacy/pseudonyms.ts).
      const id = `p${i.toString(36).padStart(22, "0")}`;
      ids[userShard(id)]!.push(id);
    }
    let pieces = 0;
    const started = performance.now();
    for (let shard = 0; shard < USER_SHARDS; shard++) {
      const state = createIntentState(limits);
      for (const userId of ids[shard]!)
        state.profiles.set(
          userId,
          // A listener with a taste and one capped campaign (the fields a profile always has).
          create(UserProfileSchema, {
            userId,
            genre: "pop",
            lastSeenMs: BigInt(NOW),
            impressions: [create(CampaignImpressionsSchema, { campaignId: "c-17", atMs: [BigInt(NOW - 60_000)] })],
          }),
        );
      perShard[shard] = state.profiles.size;
      pieces += await store.save(intentAgent, state, String(shard));
    }
    const saved = performance.now();
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(1_000_000);
    // Many pieces: one shard's profiles are several times the max payload.
    expect(pieces).toBeGreaterThan(USER_SHARDS * 2);
    let largest = 0;
    for await (const key of await kv.keys("intent.>")) largest = Math.max(largest, (await kv.get(key))!.length);
    expect(largest).toBeLessThanOrEqual(maxPayload);
    for (let shard = 0; shard < USER_SHARDS; shard++) {
      const restored = createIntentState(limits);
      expect(await store.load(intentAgent, restored, [String(shard)])).toEqual([String(shard)]);
      expect(restored.profiles.size).toBe(perShard[shard]);
    }
    console.log(
      `1,000,000 listeners: ${pieces} pieces, largest ${largest} bytes (max payload ${maxPayload}); built and saved in ${((saved - started) / 1000).toFixed(1)} s, restored in ${((performance.now() - saved) / 1000).toFixed(1)} s`,
    );
    // A smaller snapshot later leaves no stale piece behind (a restored shard holds exactly the new profiles).
    const small = createIntentState(limits);
    const one = ids[3]![0]!;
    small.profiles.set(one, create(UserProfileSchema, { userId: one }));
    expect(await store.save(intentAgent, small, "3")).toBe(1);
    const again = createIntentState(limits);
    await new AgentStateStore(kv, log, "test", maxPayload).load(intentAgent, again, ["3"]);
    expect([...again.profiles.keys()]).toEqual([one]);
  }, 600_000);

  it("ledger with 5,000 campaigns x 60 days: pieces under the max payload, restart, new events, query", async () => {
    const jsm = await jetstreamManager(nats.nc);
    await ensureLedgerStreams(jsm);
    const kv = await openLedgerBucket(jsm);
    const firstDay = utcDay(NOW) - 59;
    const campaigns = Array.from({ length: 5_000 }, (_, c) =>
      create(CampaignSpendSchema, {
        campaignId: `campaign-${c}`,
        spendMicros: 60n * 1_000n * BigInt(c + 1),
        impressions: 60n * 10n,
        days: Array.from({ length: 60 }, (_, d) =>
          create(DaySpendSchema, { day: firstDay + d, spendMicros: 1_000n * BigInt(c + 1), impressions: 10n }),
        ),
      }),
    );
    const seeded = create(LedgerSnapshotSchema, { lastSequence: 0n, campaigns });
    expect(toBinary(LedgerSnapshotSchema, seeded).length).toBeGreaterThan(maxPayload);
    // Stored as the ledger stores it: pieces, then the head with compare-and-set.
    const writer = new SnapshotWriter(kv, jsm, await readStoredTotals(kv, log), maxPayload);
    const { head, commit } = await writer.prepare(SpendTotals.fromSnapshot(seeded));
    await kv.create(SNAPSHOT_KEY, head);
    await commit();
    expect(writer.pieces).toBeGreaterThanOrEqual(8);
    expect(head.length).toBeLessThan(16 * 1024);

    // A ledger starts from it and applies new events of three campaigns on top.
    const ledger = await Ledger.start({ nc: await nats.connect("ledger"), log, flushEvery: 10 });
    try {
      expect(ledger.totals.spend("campaign-4999")).toBe(60n * 1_000n * 5_000n);
      const js = nats.js;
      for (let i = 0; i < 30; i++) {
        const campaignId = `campaign-${i % 3}`;
        const entry = create(LedgerEntrySchema, {
          campaignId,
          chargeMicros: 500n,
          chargeDay: utcDay(NOW),
          event: create(AdEventSchema, {
            eventId: `e${i}`,
            decisionId: `d${i}`,
            creativeId: "cr",
            type: AdEventType.IMPRESSION,
            occurredAt: timestampFromMs(NOW),
          }),
        });
        await js.publish(
          subjects.adEvent("impression", campaignId, [`d${i}`, "cr"]),
          toBinary(LedgerEntrySchema, entry),
        );
      }
      await ledger.caughtUp(30_000);
      // Every campaign's totals in one answer: the per-day figures are left out to fit, and said so.
      const all = await queryLedger(nats.nc, "", 10_000);
      expect(all.campaigns).toHaveLength(5_000);
      expect(all.campaigns.find((c) => c.campaignId === "campaign-0")!.spendMicros).toBe(60n * 1_000n + 10n * 500n);
      const one = await queryLedger(nats.nc, "campaign-1", 10_000);
      expect(one.campaigns[0]!.days).toHaveLength(60);
    } finally {
      await ledger.stop();
    }

    // Every value in the bucket fits one message, and a fresh read gives the same totals as the ledger had.
    for await (const key of await kv.keys()) expect((await kv.get(key))!.length).toBeLessThanOrEqual(maxPayload);
    const stored = await readStoredTotals(kv, log);
    expect(stored.totals.lastSequence).toBe(30n);
    expect(stored.totals.campaignIds()).toHaveLength(5_000);
    expect(stored.totals.spend("campaign-2")).toBe(60n * 1_000n * 3n + 10n * 500n);
    expect(stored.totals.spend("campaign-2", utcDay(NOW))).toBe(1_000n * 3n + 10n * 500n);
    expect(stored.totals.spend("campaign-4000", firstDay)).toBe(1_000n * 4_001n);
    // Pieces the head no longer names were purged, not left behind.
    const head2 = (await readStoredTotals(kv, log)).groups;
    const named = new Set([...head2.values()].flat());
    for await (const key of await kv.keys("piece.>")) expect(named.has(key)).toBe(true);
  }, 600_000);
});
