import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaseGrantSchema, LeaseRequestSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import { connectNats, type NatsConnection } from "../lib/nats/connect.ts";
import { NatsCluster } from "../lib/nats/nats-cluster.ts";
import { subjects } from "../lib/subjects.ts";
import { ensureLedgerStreams } from "./ledger-streams.ts";
import { ReceiptStore } from "./receipt-store.ts";
import { createSpendGuard } from "./spend-guard.ts";

const logger = createLogger("receipt-spool-cluster-test", "silent");

/**
 * The chaos run's lost sales (13 events never confirmed): on a cluster a gateway's connection often survives the
 * loss of the receipts stream's leader or quorum. Its receipt publishes time out meanwhile, and each sold decision's
 * receipt goes to the spool, which used to be replayed only on a reconnect (or at the next start under the same id).
 * With no reconnect the receipts stayed on disk: the ledger never saw those sales and every event for them was
 * refused as an unknown decision.
 */
describe("receipt spool on a three-node cluster", () => {
  let cluster: NatsCluster;
  const dir = mkdtempSync(join(tmpdir(), "chorus-spool-cluster-"));
  const connections: NatsConnection[] = [];
  const previousReplicas = process.env.CHORUS_REPLICAS;
  beforeAll(async () => {
    cluster = await NatsCluster.start({ size: 3, storeDir: join(dir, "nats") });
    process.env.CHORUS_REPLICAS = "3";
    const admin = await connectNats({ servers: cluster.url, name: "admin" });
    connections.push(admin);
    await ensureLedgerStreams(await jetstreamManager(admin));
  }, 60_000);
  afterAll(async () => {
    if (previousReplicas === undefined) delete process.env.CHORUS_REPLICAS;
    else process.env.CHORUS_REPLICAS = previousReplicas;
    for (const nc of connections) await nc.close().catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("receipts spooled while the connection stayed up (the stream had no quorum) reach the stream once it is back, with no reconnect", async () => {
    // The gateway knows one server only, so it cannot fail over: its connection stays up throughout.
    const node0 = `nats://127.0.0.1:${cluster.nodes[0]!.clientPort}`;
    const gw = await connectNats({ servers: node0, name: "gw-1" });
    connections.push(gw);
    let reconnects = 0;
    void (async () => {
      for await (const s of gw.status()) if (s.type === "reconnect") reconnects++;
    })();
    // The Budget side: one large lease per request (core NATS request/reply, which needs no JetStream quorum).
    const budget = await connectNats({ servers: node0, name: "budget" });
    connections.push(budget);
    let granted = 0;
    budget.subscribe(subjects.budgetLease, {
      callback: (_err, msg) => {
        const request = fromBinary(LeaseRequestSchema, msg.data);
        granted++;
        msg.respond(
          toBinary(
            LeaseGrantSchema,
            create(LeaseGrantSchema, {
              leaseId: `l-${granted}`,
              campaignId: request.campaignId,
              amountMicros: 1_000_000n,
              ttlMs: 120_000,
              epoch: 1n,
            }),
          ),
        );
      },
    });
    const spoolDir = join(dir, "spool", "gw-1");
    const guard = await createSpendGuard({
      nc: gw,
      gatewayId: "gw-1",
      logger,
      spoolDir,
      requestTimeoutMs: 2_000,
      receiptWaitMs: 300,
    });
    guard.headroom("c");
    while (guard.headroom("c") === 0n) await new Promise((r) => setTimeout(r, 20));
    const item = (creativeId: string) => ({ campaignId: "c", creativeId, priceMicros: 1_000n });
    expect(await guard.commit("d-before", [item("cr-1")])).toHaveLength(1);

    // Two of three servers die: the receipts stream has no quorum; the gateway's server and connection live on.
    await Promise.all([cluster.kill(1), cluster.kill(2)]);
    const t0 = performance.now();
    const sold = await Promise.all(["d-1", "d-2", "d-3"].map((id) => guard.commit(id, [item(`cr-${id}`)])));
    expect(sold.map((s) => s.length)).toEqual([1, 1, 1]);
    // The decisions are answered once the receipts are on disk, without waiting out the publish timeout (2 s).
    expect(performance.now() - t0).toBeLessThan(1_900);
    const spoolFile = join(spoolDir, "gw-1.receipts");
    expect(readFileSync(spoolFile, "utf8").trim().split("\n")).toHaveLength(3);

    await Promise.all([cluster.restart(1), cluster.restart(2)]);
    const reader = await ReceiptStore.open(
      await connectNats({ servers: cluster.url, name: "reader" }).then((nc) => {
        connections.push(nc);
        return nc;
      }),
      { cacheSize: 0 },
    );
    const until = Date.now() + 30_000;
    const found = new Set<string>();
    while (found.size < 3 && Date.now() < until) {
      for (const id of ["d-1", "d-2", "d-3"]) {
        const r = await reader.get(id).catch(() => undefined);
        if (r) found.add(id);
      }
      if (found.size < 3) await new Promise((r) => setTimeout(r, 250));
    }
    expect(reconnects).toBe(0);
    expect([...found].sort()).toEqual(["d-1", "d-2", "d-3"]);
    // The spool is empty again: nothing is left on disk to replay twice.
    expect(existsSync(spoolFile)).toBe(false);
  }, 120_000);
});
