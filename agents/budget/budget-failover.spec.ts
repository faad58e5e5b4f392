import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { ReportEventsRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { LeaseGrantSchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { createEventSink } from "../../ledger/event-sink.ts";
import { Ledger } from "../../ledger/ledger.ts";
import { ensureLedgerStreams } from "../../ledger/ledger-streams.ts";
import { adEvent } from "../../ledger/ledger-test-kit.ts";
import { ReceiptStore } from "../../ledger/receipt-store.ts";
import { createSpendGuard, type LeaseSpendGuard } from "../../ledger/spend-guard.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { connectNats } from "../../lib/nats/connect.ts";
import { currentLeader, openLeaderBucket } from "../../lib/nats/leader-election.ts";
import { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { type RunningChild, startChild, stopChild } from "../../lib/process/launcher.ts";
import { streams } from "../../lib/subjects.ts";
import { until } from "../../lib/testing/until.ts";
import { seedCampaigns } from "./budget-fixture.ts";

const logger = createLogger("budget-failover-test", "silent");
const BUDGET = 4_000_000n;
const AD = 10_000n; // max CPM 10 USD: one ad costs at most 10,000 micros
const LEASE = (BUDGET * 20_000n) / 1_000_000n; // BUDGET_MAX_LEASE_PPM=20000: 2% of the budget

describe("Budget agent failover", () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("two Budget agents - only the leader grants; kill -9 it: the other grants within 5 s; charged spend stays within budget + one lease per gateway", async () => {
    const server = await new NatsServerProcess({ storeDir: mkdtempSync(join(tmpdir(), "chorus-failover-")) }).start();
    cleanups.push(() => server.stop());
    const connect = async (name: string) => {
      const nc = await connectNats({ servers: server.url, name });
      cleanups.push(() => nc.close());
      return nc;
    };
    const admin = await connect("admin");
    const jsm = await jetstreamManager(admin);
    await ensureLedgerStreams(jsm);
    const catalog = await seedCampaigns(jetstream(admin), [
      { id: "fo", budgetMicros: BUDGET, maxCpmMicros: 10_000_000n },
    ]);
    cleanups.push(() => catalog.close());
    const ledger = await Ledger.start({ nc: await connect("ledger"), log: logger });
    cleanups.push(() => ledger.stop());

    const env = {
      NATS_URL: server.url,
      LOG_LEVEL: "warn",
      BUDGET_LEASE_TTL_MS: "1500",
      BUDGET_RECLAIM_GRACE_MS: "500",
      BUDGET_MAX_LEASE_PPM: "20000",
      CHORUS_LEADER_TTL_MS: "2000",
    };
    const budgets: RunningChild[] = [];
    for (const name of ["budget-a", "budget-b"]) {
      const child = await startChild({ name, entry: "agents/budget/budget-main", env }, { silent: true });
      budgets.push(child);
      cleanups.push(() => stopChild(child.process, 2_000));
    }

    // Every grant, in order, from the lease log: which instance granted it and when.
    const grants: { instance: string; at: number; epoch: bigint }[] = [];
    const log = await (
      await jetstream(admin).consumers.get(streams.leases, { deliver_policy: DeliverPolicy.All })
    ).consume();
    cleanups.push(() => log.stop());
    void (async () => {
      for await (const m of log) {
        const grant = fromBinary(LeaseGrantSchema, m.data);
        // Lease ids are `<instance>-e<epoch>-<n>`, and an instance id may itself hold "-e" (budget-e1c79983).
        const instance = /^(.*)-e\d+-\d+$/.exec(grant.leaseId)?.[1] ?? "";
        grants.push({ instance, at: Date.now(), epoch: grant.epoch });
      }
    })();

    // Two gateways sell one ad every 20 ms each, within their leases, and report its impression.
    const guards: LeaseSpendGuard[] = [];
    let selling = true;
    let decision = 0;
    const sellers = ["gw-1", "gw-2"].map(async (gatewayId) => {
      const nc = await connect(gatewayId);
      const receipts = await ReceiptStore.open(nc);
      const guard = await createSpendGuard({ nc, gatewayId, logger, retryAfterMs: 50, receipts });
      guards.push(guard);
      const sink = await createEventSink({ nc, receipts });
      while (selling) {
        await new Promise((r) => setTimeout(r, 20));
        if (guard.headroom("fo") < AD) continue;
        const id = `d-${gatewayId}-${++decision}`;
        const sold = await guard.commit(id, [{ campaignId: "fo", creativeId: "fo-cr", priceMicros: AD }]);
        if (sold.length === 0) continue;
        const event = adEvent(`e-${id}`, id, "fo-cr", Date.now());
        for (let attempt = 0; attempt < 20; attempt++) {
          const r = await sink.report(create(ReportEventsRequestSchema, { events: [event] })).catch(() => undefined);
          if (r && r.accepted + r.duplicates === 1) break;
          await new Promise((res) => setTimeout(res, 100));
        }
      }
    });

    await until(() => grants.length >= 6, 20_000);
    const kv = await openLeaderBucket(jetstream(admin), 2_000);
    const leader = await currentLeader(kv, "budget");
    expect(leader).toBeDefined();
    const victim = budgets.find((b) => b.pid === leader?.pid);
    expect(victim).toBeDefined();
    // Only one instance granted so far: the leader.
    expect(new Set(grants.map((g) => g.instance))).toEqual(new Set([leader?.instance]));

    const killedAt = Date.now();
    const before = grants.length;
    victim?.process.kill("SIGKILL");
    await until(() => grants.slice(before).some((g) => g.instance !== leader?.instance), 10_000);
    const takeoverMs = grants.slice(before).find((g) => g.instance !== leader?.instance)!.at - killedAt;
    expect(takeoverMs).toBeLessThan(5_000);
    const newEpoch = grants.at(-1)!.epoch;
    expect(newEpoch).toBeGreaterThan(grants[0]!.epoch);

    // Sell until the budget is gone (or 40 s), then stop and let the ledger count everything.
    await until(() => ledger.totals.spend("fo") >= BUDGET - AD, 30_000).catch(() => undefined);
    selling = false;
    await Promise.all(sellers);
    await ledger.caughtUp(15_000);
    const charged = ledger.totals.spend("fo");
    expect(charged).toBeGreaterThan(BUDGET / 2n); // it did sell, across the failover
    expect(charged).toBeLessThanOrEqual(BUDGET + 2n * LEASE);
    expect(guards.reduce((n, g) => n + g.staleGrantsRefused, 0)).toBe(0);
    console.log(
      `budget failover: takeover ${takeoverMs} ms, epochs ${grants[0]!.epoch} -> ${newEpoch}, charged ${charged} of ${BUDGET} (bound ${BUDGET + 2n * LEASE})`,
    );
  }, 120_000);
});
