import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { ReportEventsRequestSchema } from "../gen/chorus/v1/decision_pb.ts";
import { connectNats } from "../lib/nats/connect.ts";
import { currentLeader, openLeaderBucket } from "../lib/nats/leader-election.ts";
import { NatsServerProcess } from "../lib/nats/nats-server-process.ts";
import { type RunningChild, startChild, stopChild } from "../lib/process/launcher.ts";
import { until } from "../lib/testing/until.ts";
import { createEventSink } from "./event-sink.ts";
import { queryLedger } from "./ledger.ts";
import { ensureLedgerStreams } from "./ledger-streams.ts";
import { adEvent, receipt } from "./ledger-test-kit.ts";
import { rebuildLedger } from "./rebuild.ts";
import { ReceiptStore } from "./receipt-store.ts";

/**
 * Two ledger processes, one active. Events keep arriving while the active one is killed with SIGKILL (no snapshot
 * written on the way out): the standby answers within 5 s and, once the stream is drained, charges exactly what the
 * accepted events are worth — nothing lost, nothing counted twice — equal to a rebuild from the stream.
 */
describe("ledger failover", () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("two ledgers - kill -9 the active one mid-stream: the other answers within 5 s and the totals are exact", async () => {
    const server = await new NatsServerProcess({ storeDir: mkdtempSync(join(tmpdir(), "chorus-ledger-fo-")) }).start();
    cleanups.push(() => server.stop());
    const nc = await connectNats({ servers: server.url, name: "test" });
    cleanups.push(() => nc.close());
    await ensureLedgerStreams(await jetstreamManager(nc));
    const receipts = await ReceiptStore.open(nc);
    const sink = await createEventSink({ nc, receipts });

    const env = { NATS_URL: server.url, LOG_LEVEL: "warn", CHORUS_LEADER_TTL_MS: "2000" };
    const ledgers: RunningChild[] = [];
    for (const name of ["ledger-a", "ledger-b"]) {
      const child = await startChild({ name, entry: "ledger/ledger-main", env }, { silent: true });
      ledgers.push(child);
      cleanups.push(() => stopChild(child.process, 2_000));
    }

    // One sale every 10 ms: a receipt, then its impression, re-sent until the event stream confirms it.
    let expected = 0n;
    let accepted = 0;
    let selling = true;
    const seller = (async () => {
      for (let n = 1; selling; n++) {
        const decisionId = `d-${n}`;
        const price = 1_000n + BigInt(n % 7);
        const now = Date.now();
        await receipts.put(receipt(decisionId, now, [{ campaignId: "fo", creativeId: "fo-cr", priceMicros: price }]));
        const event = adEvent(`e-${n}`, decisionId, "fo-cr", now);
        for (let attempt = 0; ; attempt++) {
          const r = await sink.report(create(ReportEventsRequestSchema, { events: [event] })).catch(() => undefined);
          if (r && r.accepted + r.duplicates === 1) break;
          if (attempt > 50) throw new Error(`event e-${n} never confirmed`);
          await new Promise((res) => setTimeout(res, 50));
        }
        expected += price;
        accepted++;
        await new Promise((res) => setTimeout(res, 10));
      }
    })();

    const answered = async () =>
      (await queryLedger(nc, "fo", 500).catch(() => undefined))?.campaigns[0]?.spendMicros ?? -1n;
    await until(async () => (await answered()) > 0n, 20_000);
    const kv = await openLeaderBucket(jetstream(nc), 2_000);
    const leader = await currentLeader(kv, "ledger");
    const victim = ledgers.find((l) => l.pid === leader?.pid);
    expect(victim).toBeDefined();

    const killedAt = Date.now();
    victim?.process.kill("SIGKILL");
    // Answered again, by the other instance, with spend that includes events reported after the kill.
    const soldAtKill = expected;
    await until(async () => {
      const now = await currentLeader(kv, "ledger");
      return now !== undefined && now.pid !== victim?.pid && (await answered()) > soldAtKill;
    }, 15_000);
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(5_000);

    await new Promise((r) => setTimeout(r, 1_000));
    selling = false;
    await seller;
    await until(async () => (await answered()) === expected, 15_000).catch(() => undefined);
    const charged = await answered();
    const rebuilt = (await rebuildLedger(nc)).spend("fo");
    console.log(
      `ledger failover: answered again ${takeoverMs} ms after kill -9; ${accepted} events, charged ${charged}, expected ${expected}, rebuilt ${rebuilt}`,
    );
    expect(charged).toBe(expected);
    expect(rebuilt).toBe(expected);
  }, 120_000);
});
