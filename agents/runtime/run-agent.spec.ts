import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Svcm } from "@nats-io/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentVoteSchema, DecideTaskSchema, VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import { AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { demoCatalog, loadDemoCatalog } from "../../lib/demo/demo-catalog.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { subjects, userShard } from "../../lib/subjects.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { intentAgent } from "../../voting/intent/agent.ts";
import { runAgent } from "./run-agent.ts";

const logger = createLogger("test", "warn");

describe("agent runtime - micro-service, queue group, inputs, KV recovery", () => {
  let nats: NatsFixture;
  let view: CatalogView;
  beforeAll(async () => {
    nats = await startNats();
    const kv = await openCatalogBucket(nats.js);
    await loadDemoCatalog(new CatalogStore(kv), demoCatalog({ advertisers: 12 }));
    view = await CatalogView.open(kv);
  });
  afterAll(async () => {
    view.close();
    await nats.cleanup();
  });

  const ask = async () => {
    const task = create(DecideTaskSchema, {
      runId: "run",
      request: demoRequest(),
      inventoryVersion: BigInt(view.inventory.version),
      deadline: timestampFromMs(Date.now() + 2_000),
    });
    const reply = await nats.nc.request(subjects.agentDecide("intent"), toBinary(DecideTaskSchema, task), {
      timeout: 2_000,
    });
    return fromBinary(AgentVoteSchema, reply.data);
  };
  const capped = (vote: Awaited<ReturnType<typeof ask>>, campaignId: string) =>
    vote.vetoes.some(
      (v) =>
        v.reason === VetoReason.FREQUENCY_CAP && view.inventory.candidates[v.candidate]!.campaign.id === campaignId,
    );

  it("two instances share decide requests in the queue group (micro-service stats) and answer ping", async () => {
    const a = await runAgent(intentAgent, { nc: await nats.connect("a"), catalog: view, logger });
    const b = await runAgent(intentAgent, { nc: await nats.connect("b"), catalog: view, logger });
    for (let i = 0; i < 40; i++) expect((await ask()).agent).toBe("intent");
    const client = new Svcm(nats.nc as never).client();
    const stats = [];
    for await (const s of await client.stats("chorus-intent")) stats.push(s);
    expect(stats).toHaveLength(2);
    const counts = stats.map((s) => s.endpoints?.[0]?.num_requests ?? 0);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(40);
    for (const c of counts) expect(c).toBeGreaterThan(5);
    expect(stats[0]!.endpoints?.[0]?.queue_group).toBe("intent");
    const pings = [];
    for await (const p of await client.ping("chorus-intent")) pings.push(p);
    expect(pings).toHaveLength(2);
    await a.stop();
    await b.stop();
    expect(a.status).toBe("stopped");
  });

  it("frequency caps count impression events, and a restarted agent recovers them from KV", async () => {
    const agent = await runAgent(intentAgent, { nc: await nats.connect("c"), catalog: view, logger });
    const first = await ask();
    // A capped campaign the targeting rules let through for this listener.
    const vetoed = new Set(first.vetoes.map((v) => v.candidate));
    const capped1 = view.inventory.candidates.find(
      (c) => (c.campaign.frequencyCap?.maxImpressions ?? 0) > 0 && !vetoed.has(c.index),
    )!.campaign;
    for (let i = 0; i < capped1.frequencyCap!.maxImpressions; i++) {
      const entry = create(LedgerEntrySchema, {
        campaignId: capped1.id,
        userId: "listener-1",
        event: { eventId: `e${i}`, type: AdEventType.IMPRESSION, occurredAt: timestampFromMs(Date.now()) },
      });
      nats.nc.publish(
        subjects.acceptedEvents("impression").replace(">", `${capped1.id}.e${i}`),
        toBinary(LedgerEntrySchema, entry),
      );
    }
    await nats.nc.flush();
    await expect.poll(async () => capped(await ask(), capped1.id), { timeout: 3_000 }).toBe(true);
    await agent.stop(); // persists the final state
    const restarted = await runAgent(intentAgent, { nc: await nats.connect("d"), catalog: view, logger });
    expect(capped(await ask(), capped1.id)).toBe(true);
    await restarted.stop();
  });

  it("signals - nothing is published while nothing changes; a change is published, then refreshed once", async () => {
    const signals: string[] = [];
    const sub = nats.nc.subscribe(subjects.agentSignalAll("intent"), {
      callback: (err, msg) => void (err || msg.subject.endsWith(".alive") || signals.push(msg.subject)),
    });
    await nats.nc.flush();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const agent = await runAgent(intentAgent, {
      nc: await nats.connect("signals"),
      catalog: view,
      logger,
      refreshMs: 50,
      fullRefreshRounds: 1_000,
      heartbeatMs: 60_000,
      signalIntervalMs: 10,
    });
    // Started: each of the 16 user shards (and again at the first refresh round).
    await expect.poll(() => signals.length, { timeout: 3_000 }).toBeGreaterThanOrEqual(16);
    await sleep(300);
    const started = signals.length;
    expect(new Set(signals).size).toBe(16);
    // Twenty rounds and more with nothing changed: nothing (every round republished all 16 before).
    await sleep(1_000);
    expect(signals).toHaveLength(started);
    const user = "listener-refresh";
    const shard = subjects.agentSignal("intent", String(userShard(user)));
    nats.nc.publish(
      subjects.acceptedEvents("impression").replace(">", "c1.r1"),
      toBinary(
        LedgerEntrySchema,
        create(LedgerEntrySchema, {
          campaignId: view.inventory.candidates[0]!.campaign.id,
          userId: user,
          event: { eventId: "r1", type: AdEventType.IMPRESSION, occurredAt: timestampFromMs(Date.now()) },
        }),
      ),
    );
    // The changed shard: its delta, then one refresh round; nothing after.
    await expect.poll(() => signals.length, { timeout: 3_000 }).toBe(started + 2);
    await sleep(1_000);
    expect(signals.slice(started)).toEqual([shard, shard]);
    sub.unsubscribe();
    await agent.stop();
  });

  it("signals - every few refresh rounds every key is published again, changed or not (a mirror cut off heals)", async () => {
    const signals: string[] = [];
    const sub = nats.nc.subscribe(subjects.agentSignalAll("intent"), {
      callback: (err, msg) => void (err || msg.subject.endsWith(".alive") || signals.push(msg.subject)),
    });
    await nats.nc.flush();
    const agent = await runAgent(intentAgent, {
      nc: await nats.connect("full-refresh"),
      catalog: view,
      logger,
      refreshMs: 50,
      fullRefreshRounds: 4,
      heartbeatMs: 60_000,
      signalIntervalMs: 10,
    });
    await expect.poll(() => signals.length, { timeout: 3_000 }).toBeGreaterThanOrEqual(16);
    const started = signals.length;
    // No change at all, yet each of the 16 shards again every 4 rounds (200 ms).
    await expect.poll(() => signals.length, { timeout: 3_000 }).toBeGreaterThanOrEqual(started + 32);
    const counts = new Map<string, number>();
    for (const s of signals.slice(started)) counts.set(s, (counts.get(s) ?? 0) + 1);
    expect(counts.size).toBe(16);
    sub.unsubscribe();
    await agent.stop();
  });
});
