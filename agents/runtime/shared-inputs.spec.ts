/**
 * Agents of one process sharing their inputs (SharedInputs, as agents/host.ts runs them): one subscription per
 * subject on a real nats-server (counted by the server's monitoring endpoint), one decode, every agent handed the
 * same message, each only the shards it owns.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentVoteSchema, type AuctionOutcome, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { OrchestratorSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { type LedgerEntry, LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { encodeAuctionOutcome, joinEncodedOutcomes } from "../../lib/codecs/auction-outcome.ts";
import { demoCatalog, loadDemoCatalog } from "../../lib/demo/demo-catalog.ts";
import { connectNats, type NatsConnection } from "../../lib/nats/connect.ts";
import { freePort, NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import type { AgentName } from "../../lib/subjects.ts";
import { type AgentModule, agentInput } from "../../voting/contract/agent-module.ts";
import { runAgent } from "./run-agent.ts";
import { SharedInputs } from "./shared-inputs.ts";

const ALL = "test.shared.all";
const shardSubject = (shard: number) => `test.shared.shard.${shard}`;

interface Seen {
  all: LedgerEntry[];
  sharded: LedgerEntry[];
}

/** A recording agent: every message of its two inputs, as handed over (the runtime's plumbing is the real one). */
function recorder(name: AgentName): AgentModule<Seen, typeof OrchestratorSignalSchema> {
  return {
    name,
    version: "0.0.1",
    description: "records its inputs",
    keySpace: "user-shards",
    signalSchema: OrchestratorSignalSchema,
    createState: () => ({ all: [], sharded: [] }),
    snapshot: () => create(OrchestratorSignalSchema),
    restore: () => {},
    vote: () => create(AgentVoteSchema),
    inputs: [
      agentInput<Seen, typeof LedgerEntrySchema>({
        subject: ALL,
        schema: LedgerEntrySchema,
        handle: (s, m) => void s.all.push(m),
      }),
      agentInput<Seen, typeof LedgerEntrySchema>({
        subject: shardSubject,
        schema: LedgerEntrySchema,
        handle: (s, m) => void s.sharded.push(m),
      }),
    ],
  };
}

describe("shared inputs - agents of one process", () => {
  let server: NatsServerProcess;
  let monitorPort: number;
  let nc: NatsConnection;
  let view: CatalogView;
  const warnings: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });

  beforeAll(async () => {
    monitorPort = await freePort();
    server = await new NatsServerProcess({ args: ["-m", String(monitorPort)] }).start();
    nc = await connectNats({ servers: server.url, name: "host" });
    const kv = await openCatalogBucket(jetstream(nc));
    await loadDemoCatalog(new CatalogStore(kv), demoCatalog({ advertisers: 2 }));
    view = await CatalogView.open(kv);
  });
  afterAll(async () => {
    view.close();
    await nc.close();
    await server.stop();
  });

  /** The server's count of this connection's subscriptions per subject (`test.shared.*` only). */
  const serverSubs = async (): Promise<Record<string, number>> => {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/connz?subs=1`);
    const connz = (await res.json()) as { connections: { name?: string; subscriptions_list?: string[] }[] };
    const counts: Record<string, number> = {};
    for (const c of connz.connections)
      if (c.name === "host")
        for (const s of c.subscriptions_list ?? []) if (s.startsWith("test.shared.")) counts[s] = (counts[s] ?? 0) + 1;
    return counts;
  };
  const entry = (i: number) => create(LedgerEntrySchema, { campaignId: `c${i}`, userId: `u${i}` });

  it("one subscription per subject; both agents get every message, the same decoded object; shards by owner", async () => {
    const inputs = new SharedInputs(nc, logger);
    const lower = [0, 1, 2, 3, 4, 5, 6, 7];
    const a = await runAgent(recorder("relevance"), { nc, catalog: view, logger, inputs, shards: lower });
    const b = await runAgent(recorder("bidding"), { nc, catalog: view, logger, inputs });
    const seenA = a.state as Seen;
    const seenB = b.state as Seen;

    // 1 plain subject + 16 shard subjects, whatever the number of agents taking them.
    expect(inputs.subscriptionCount).toBe(17);
    const subs = await serverSubs();
    expect(subs[ALL]).toBe(1);
    for (let shard = 0; shard < 16; shard++) expect(subs[shardSubject(shard)]).toBe(1);

    for (let i = 0; i < 20; i++) nc.publish(ALL, toBinary(LedgerEntrySchema, entry(i)));
    // Undecodable (a length-delimited field longer than the message): skipped, counted and logged for both agents.
    nc.publish(ALL, new Uint8Array([0x0a, 0x7f, 0x01]));
    nc.publish(ALL, toBinary(LedgerEntrySchema, entry(20)));
    nc.publish(shardSubject(3), toBinary(LedgerEntrySchema, entry(3)));
    nc.publish(shardSubject(12), toBinary(LedgerEntrySchema, entry(12)));
    await expect.poll(() => seenB.all.length + seenB.sharded.length, { timeout: 3_000 }).toBe(23);
    expect(seenA.all.map((m) => m.campaignId)).toEqual(Array.from({ length: 21 }, (_, i) => `c${i}`));
    for (let i = 0; i < 21; i++) expect(seenA.all[i]).toBe(seenB.all[i]); // one decode, handed to both
    expect(seenA.sharded.map((m) => m.campaignId)).toEqual(["c3"]); // shard 12 belongs to another instance
    expect(seenB.sharded.map((m) => m.campaignId)).toEqual(["c3", "c12"]);
    expect(seenA.sharded[0]).toBe(seenB.sharded[0]);
    // Decoded once; skipped and counted for each agent taking it.
    const dropped = warnings.filter((w) => w.includes("bad message skipped")).map((w) => JSON.parse(w));
    expect(dropped.map((w) => [w.consumer, w.subject, w.reason])).toEqual([
      ["agent:relevance", ALL, "undecodable"],
      ["agent:bidding", ALL, "undecodable"],
    ]);

    // A stopped agent gets nothing more; the other keeps the subscription it shares.
    await a.stop();
    expect((await serverSubs())[ALL]).toBe(1);
    nc.publish(ALL, toBinary(LedgerEntrySchema, entry(21)));
    await expect.poll(() => seenB.all.length, { timeout: 3_000 }).toBe(22);
    expect(seenA.all).toHaveLength(21);
    // Shards only the stopped agent... none here (b owns all): the shard subscriptions stay too.
    expect(inputs.subscriptionCount).toBe(17);

    // The last one out drains the subscriptions.
    await b.stop();
    expect(inputs.subscriptionCount).toBe(0);
    expect(await serverSubs()).toEqual({});
  });

  it("a shard subject only one agent owns is released with that agent", async () => {
    const inputs = new SharedInputs(nc, logger);
    const a = await runAgent(recorder("relevance"), { nc, catalog: view, logger, inputs, shards: [0, 1] });
    const b = await runAgent(recorder("bidding"), { nc, catalog: view, logger, inputs, shards: [1, 2] });
    expect(Object.keys(await serverSubs()).sort()).toEqual([ALL, shardSubject(0), shardSubject(1), shardSubject(2)]);
    await a.stop();
    expect(Object.keys(await serverSubs()).sort()).toEqual([ALL, shardSubject(1), shardSubject(2)]);
    nc.publish(shardSubject(1), toBinary(LedgerEntrySchema, entry(1)));
    await expect.poll(() => (b.state as Seen).sharded.length, { timeout: 3_000 }).toBe(1);
    expect((a.state as Seen).sharded).toHaveLength(0);
    await b.stop();
    expect(await serverSubs()).toEqual({});
  });

  it("AuctionOutcomes come in batches: each delivered on its own, in order; a bad one skipped and reported alone", async () => {
    const OUTCOMES = "test.shared.outcomes";
    const learned: AuctionOutcome[] = [];
    const learner: AgentModule<AuctionOutcome[], typeof OrchestratorSignalSchema> = {
      ...(recorder("orchestrator") as unknown as AgentModule<AuctionOutcome[], typeof OrchestratorSignalSchema>),
      keySpace: "global",
      createState: () => learned,
      inputs: [
        agentInput<AuctionOutcome[], typeof AuctionOutcomeSchema>({
          subject: OUTCOMES,
          schema: AuctionOutcomeSchema,
          handle: (s, m) => void s.push(m),
        }),
      ],
    };
    const agent = await runAgent(learner, { nc, catalog: view, logger, inputs: new SharedInputs(nc, logger) });
    warnings.length = 0;
    const outcome = (decisionId: string, bidMicros = 1) =>
      encodeAuctionOutcome(
        create(AuctionOutcomeSchema, {
          decisionId,
          entries: [{ creativeId: "cr1", bidMicros, won: true, contributions: [0.5] }],
        }),
      );
    nc.publish(OUTCOMES, joinEncodedOutcomes([outcome("d1"), outcome("d2", Number.POSITIVE_INFINITY), outcome("d3")]));
    nc.publish(OUTCOMES, new Uint8Array([0x0a, 0x7f, 0x01])); // an outcome longer than the batch: nothing read
    nc.publish(OUTCOMES, joinEncodedOutcomes([outcome("d4")]));
    await expect.poll(() => learned.length, { timeout: 3_000 }).toBe(3);
    expect(learned.map((o) => o.decisionId)).toEqual(["d1", "d3", "d4"]);
    expect(learned[0]!.entries[0]!.contributions).toEqual([0.5]);
    const dropped = warnings.filter((w) => w.includes("bad message skipped")).map((w) => JSON.parse(w));
    expect(dropped.map((w) => [w.consumer, w.subject, w.reason])).toEqual([
      ["agent:orchestrator", OUTCOMES, "out_of_range"],
      ["agent:orchestrator", OUTCOMES, "undecodable"],
    ]);
    await agent.stop();
  });
});
