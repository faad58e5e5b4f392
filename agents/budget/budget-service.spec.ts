import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdEventSchema, AdEventType, ReportEventsRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { LeaseDenial } from "../../gen/chorus/v1/ledger_pb.ts";
import { createEventSink } from "../../ledger/event-sink.ts";
import { Ledger } from "../../ledger/ledger.ts";
import type { EventSink } from "../../ledger/ports.ts";
import { ReceiptStore } from "../../ledger/receipt-store.ts";
import { createSpendGuard, type LeaseSpendGuard } from "../../ledger/spend-guard.ts";
import { utcDay } from "../../ledger/spend-totals.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { until } from "../../lib/testing/until.ts";
import { createBudgetState } from "../../voting/budget/state.ts";
import { seedCampaigns } from "./budget-fixture.ts";
import { BudgetService } from "./budget-service.ts";

const logger = createLogger("budget-test", "silent");
const POLICY = { leaseTtlMs: 1_000, reclaimGraceMs: 500, maxLeaseShare: 0.01 };
const PRICE = 100n;

describe("budget service", () => {
  let nats: NatsFixture;
  let catalog: CatalogView;
  let service: BudgetService;
  let ledger: Ledger;

  beforeAll(async () => {
    nats = await startNats();
    catalog = await seedCampaigns(nats.js, [
      { id: "sells-out", budgetMicros: 200_000n },
      { id: "capped", budgetMicros: 10_000_000n, dailyBudgetMicros: 150_000n },
    ]);
    service = await BudgetService.start({
      nc: await nats.connect("budget"),
      catalog,
      state: createBudgetState(),
      logger,
      policy: POLICY,
    });
    ledger = await Ledger.start({ nc: await nats.connect("ledger"), log: logger });
  });
  afterAll(async () => {
    await service?.stop();
    await ledger?.stop();
    catalog?.close();
    await nats?.cleanup();
  });

  it("lease - none is granted until leases of an earlier instance have expired", async () => {
    const guard = await createSpendGuard({
      nc: await nats.connect("probe"),
      gatewayId: "probe",
      logger,
      retryAfterMs: 50,
    });
    expect(guard.headroom("sells-out")).toBe(0n);
    await until(() => guard.lastDenial("sells-out") !== undefined, 3_000);
    expect(guard.lastDenial("sells-out")?.denial).toBe(LeaseDenial.RECOVERING);
    await until(() => guard.headroom("sells-out") > 0n, 5_000);
    expect(guard.headroom("sells-out")).toBe(2_000n); // 1% of 200_000 micros
  });

  it("budget - 4 gateways, impressions 2 s late, a campaign selling out mid-run: spend stays within budget + one lease, and the daily cap likewise", async () => {
    const guards: LeaseSpendGuard[] = [];
    const sinks: EventSink[] = [];
    for (let g = 0; g < 4; g++) {
      const nc = await nats.connect(`gateway-${g}`);
      // One receipt store per gateway, as serve-gateway has it: events find the receipts it sold in memory.
      const receipts = await ReceiptStore.open(nc);
      guards.push(await createSpendGuard({ nc, gatewayId: `gw${g}`, logger, retryAfterMs: 50, receipts }));
      sinks.push(await createEventSink({ nc, receipts }));
    }
    const late: Promise<unknown>[] = [];
    const sold = new Map<string, bigint>();
    let decisions = 0;
    // Sell until both campaigns are (nearly) sold out, or 15 s on a very busy machine.
    const deadline = Date.now() + 15_000;
    const selling = () =>
      Date.now() < deadline &&
      ((sold.get("sells-out") ?? 0n) < 200_000n - 5n * PRICE || (sold.get("capped") ?? 0n) < 150_000n - 5n * PRICE);
    await Promise.all(
      guards.map(async (guard, g) => {
        while (selling()) {
          for (const campaignId of ["sells-out", "capped"]) {
            if (guard.headroom(campaignId) < PRICE) continue;
            const decisionId = `d-${g}-${decisions++}`;
            const items = await guard.commit(decisionId, [
              { campaignId, creativeId: `${campaignId}-cr`, priceMicros: PRICE },
            ]);
            for (const item of items) {
              sold.set(campaignId, (sold.get(campaignId) ?? 0n) + item.priceMicros);
              const event = create(AdEventSchema, {
                eventId: `i-${decisionId}`,
                decisionId,
                creativeId: item.creativeId,
                type: AdEventType.IMPRESSION,
                occurredAt: timestampFromMs(Date.now()),
              });
              // The impression reaches the server 2 s after the ad was sold.
              late.push(
                new Promise((r) => setTimeout(r, 2_000)).then(() =>
                  sinks[g]?.report(create(ReportEventsRequestSchema, { events: [event] })),
                ),
              );
            }
          }
          await new Promise((r) => setTimeout(r, 2));
        }
      }),
    );
    await Promise.all(late);
    await ledger.caughtUp();
    const lease = 2_000n;
    const soldOut = ledger.totals.spend("sells-out");
    expect(soldOut).toBe(sold.get("sells-out"));
    expect(soldOut).toBeLessThanOrEqual(200_000n + lease);
    expect(soldOut).toBeGreaterThanOrEqual(190_000n); // it did sell out mid-run
    const today = ledger.totals.spend("capped", utcDay(Date.now()));
    expect(today).toBeLessThanOrEqual(150_000n + 100_000n); // cap + one lease (1% of the 10M budget)
    expect(today).toBeGreaterThanOrEqual(140_000n);
    expect(service.book.status("sells-out", Date.now()).remainingMicros).toBeLessThan(10_000n);
  }, 40_000);
});
