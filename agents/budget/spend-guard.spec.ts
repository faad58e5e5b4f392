import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { ReportEventsRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { createEventSink } from "../../ledger/event-sink.ts";
import { Ledger } from "../../ledger/ledger.ts";
import { adEvent } from "../../ledger/ledger-test-kit.ts";
import { ReceiptStore } from "../../ledger/receipt-store.ts";
import { createSpendGuard } from "../../ledger/spend-guard.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { connectNats, type NatsConnection } from "../../lib/nats/connect.ts";
import { freePort, NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { until } from "../../lib/testing/until.ts";
import { createBudgetState } from "../../voting/budget/state.ts";
import { seedCampaigns } from "./budget-fixture.ts";
import { BudgetService } from "./budget-service.ts";

const logger = createLogger("spend-guard-test", "silent");

describe("spend guard", () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("outage - sells within held leases while NATS is down (receipts spooled), then nothing; events fail UNAVAILABLE; all resumes exactly on restart", async () => {
    const server = await new NatsServerProcess({ port: await freePort() }).start();
    cleanups.push(() => server.stop());
    const connect = async (name: string) => {
      const nc = await connectNats({ servers: server.url, name });
      cleanups.push(() => nc.close());
      return nc;
    };
    const admin: NatsConnection = await connect("admin");
    const catalog = await seedCampaigns(jetstream(admin), [{ id: "camp", budgetMicros: 1_000_000n }]);
    cleanups.push(() => catalog.close());
    const service = await BudgetService.start({
      nc: await connect("budget"),
      catalog,
      state: createBudgetState(),
      logger,
      policy: { leaseTtlMs: 4_000, reclaimGraceMs: 500, maxLeaseShare: 0.01 },
    });
    cleanups.push(() => service.stop());
    const ledger = await Ledger.start({ nc: await connect("ledger"), log: logger });
    cleanups.push(() => ledger.stop());
    const gateway = await connect("gateway");
    const spoolDir = mkdtempSync(join(tmpdir(), "chorus-spool-"));
    const receipts = await ReceiptStore.open(gateway);
    const guard = await createSpendGuard({
      nc: gateway,
      gatewayId: "gw",
      logger,
      spoolDir,
      retryAfterMs: 50,
      receipts,
    });
    // The events go to another gateway's sink, with the receipt's locator the ad's token would carry (none for a
    // receipt spooled during the outage: it is found on its decision's own subject once replayed).
    const sink = await createEventSink({ nc: await connect("other-gateway") });
    const item = { campaignId: "camp", creativeId: "camp-cr", priceMicros: 100n };
    const report = (id: string, decisionId: string) => {
      const locator = receipts.locatorOf(decisionId);
      return sink.report(
        create(ReportEventsRequestSchema, { events: [adEvent(id, decisionId, "camp-cr", Date.now())] }),
        locator === undefined ? undefined : new Map([[decisionId, locator]]),
      );
    };

    await until(() => guard.headroom("camp") > 0n, 8_000);
    expect(await guard.commit("d-before", [item])).toHaveLength(1);
    expect((await report("e-before", "d-before")).accepted).toBe(1);

    await server.kill();
    await until(async () => {
      try {
        await report("e-probe", "d-before");
        return false;
      } catch (err) {
        return err instanceof ConnectError && err.code === Code.Unavailable;
      }
    });
    // Still inside the lease: the sale is recorded on disk, not lost and not unrecorded.
    expect(guard.headroom("camp")).toBeGreaterThan(0n);
    expect(await guard.commit("d-outage", [item])).toHaveLength(1);
    expect(readdirSync(spoolDir).length).toBe(1);
    // Once the lease has expired: no headroom, nothing paid is sold.
    await until(() => guard.headroom("camp") === 0n, 6_000);
    expect(await guard.commit("d-after-expiry", [item])).toHaveLength(0);

    await server.start();
    // The spool is stored on reconnect; the client's retried impression is then accepted and counted once.
    await until(async () => {
      try {
        return (await report("e-outage", "d-outage")).accepted + (await report("e-outage", "d-outage")).duplicates >= 1;
      } catch {
        return false;
      }
    }, 10_000);
    await ledger.caughtUp(15_000);
    expect(ledger.totals.spend("camp")).toBe(200n);
    await until(() => guard.headroom("camp") > 0n, 8_000);
  }, 60_000);
});

describe("spend guard leases", () => {
  let nats: NatsFixture | undefined;
  let service: BudgetService | undefined;
  let catalog: CatalogView | undefined;
  afterAll(async () => {
    await service?.stop();
    catalog?.close();
    await nats?.cleanup();
  });

  it("commit - an ad larger than any one lease is sold across the campaign's leases, never beyond their sum; a remainder too small for a refused ad reads as no headroom", async () => {
    nats = await startNats();
    // 20,000 micros at up to 10,000 an ad: the Budget agent leases one ad at a time (a 1% lease is raised to it).
    catalog = await seedCampaigns(nats.js, [{ id: "two-ads", budgetMicros: 20_000n, maxCpmMicros: 10_000_000n }]);
    service = await BudgetService.start({
      nc: await nats.connect("budget"),
      catalog,
      state: createBudgetState(),
      logger,
      policy: { leaseTtlMs: 4_000, reclaimGraceMs: 500, maxLeaseShare: 0.01 },
    });
    const guard = await createSpendGuard({
      nc: await nats.connect("gateway"),
      gatewayId: "gw",
      logger,
      retryAfterMs: 50,
    });
    const ad = (decisionId: string, priceMicros: bigint) =>
      guard.commit(decisionId, [{ campaignId: "two-ads", creativeId: "two-ads-cr", priceMicros }]);

    await until(() => guard.headroom("two-ads") >= 10_000n, 8_000);
    expect(await ad("d1", 6_000n)).toHaveLength(1);
    await until(() => guard.headroom("two-ads") === 14_000n); // 4,000 left of the first lease + a second one
    expect(await ad("d2", 5_000n)).toHaveLength(1); // fits the second lease
    // 4,000 + 5,000 left in two leases: 8,000 fits neither alone, both together.
    expect(await ad("d3", 8_000n)).toHaveLength(1);
    expect(guard.headroom("two-ads")).toBe(1_000n);
    expect(await ad("d4", 2_000n)).toHaveLength(0);
    // What is left cannot pay for the ad just refused: the campaign shows no headroom, so auctions skip it.
    expect(guard.headroom("two-ads")).toBe(0n);
    // The agent counts all 19,000 sold and no longer sees room for one more ad.
    await until(() => service!.book.exposure("two-ads", undefined, false) === 19_000n);
    expect(service.book.exposure("two-ads")).toBeGreaterThanOrEqual(20_000n);
    expect(service.book.status("two-ads", Date.now()).exhausted).toBe(true);
  }, 20_000);
});
