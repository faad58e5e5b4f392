import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLedgerStreams } from "../../ledger/ledger-streams.ts";
import { receipt } from "../../ledger/ledger-test-kit.ts";
import { ReceiptStore } from "../../ledger/receipt-store.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { until } from "../../lib/testing/until.ts";
import { createBudgetState } from "../../voting/budget/state.ts";
import { seedCampaigns } from "./budget-fixture.ts";
import { BudgetService } from "./budget-service.ts";

const logger = createLogger("budget-receipt-batch-test", "silent");
const sold = (decisionId: string, campaignId: string, priceMicros: bigint) =>
  receipt(decisionId, Date.now(), [{ campaignId, creativeId: `${campaignId}-cr`, priceMicros, leaseId: "l-1" }]);

describe("budget service and group-committed receipts", () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startNats();
    await ensureLedgerStreams(await jetstreamManager(nats.nc));
  });
  afterAll(() => nats.cleanup());

  it("the Budget book reads each receipt of a batch once, as if it had come alone (and drops one seen again alone)", async () => {
    const catalog: CatalogView = await seedCampaigns(nats.js, [{ id: "batched", budgetMicros: 10_000_000n }]);
    const budget = await BudgetService.start({
      nc: await nats.connect("budget"),
      catalog,
      state: createBudgetState(),
      logger,
      policy: { leaseTtlMs: 1_000, reclaimGraceMs: 500, maxLeaseShare: 0.01 },
    });
    try {
      const store = await ReceiptStore.open(await nats.connect("gw-g"));
      const remaining = () => budget.book.status("batched", Date.now()).remainingMicros;
      const start = remaining();
      const group = Array.from({ length: 20 }, (_, i) => sold(`budget-${i}`, "batched", 1_000n));
      await Promise.all(group.map((r) => store.put(r)));
      // Fewer messages than receipts: most went out together.
      expect(new Set(group.map((r) => store.locatorOf(r.decisionId))).size).toBeLessThan(10);
      await until(() => remaining() === start - 20_000n);
      // The same receipts again, alone on their own subjects (a replayed spool): nothing more is counted.
      const replay = await ReceiptStore.open(await nats.connect("gw-h"));
      for (const r of group) await replay.putOnOwnSubject(r);
      await new Promise((r) => setTimeout(r, 300));
      expect(remaining()).toBe(start - 20_000n);
    } finally {
      await budget.stop();
      catalog.close();
    }
  });
});
