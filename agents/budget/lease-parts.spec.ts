import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { BidStrategy_Kind, CampaignSchema, EntityStatus, PacingMode } from "../../gen/chorus/v1/campaign_pb.ts";
import {
  type DecisionReceipt,
  DecisionReceiptSchema,
  LeaseDenial,
  LeasePartSchema,
  LeaseRequestSchema,
} from "../../gen/chorus/v1/ledger_pb.ts";
import { receipt } from "../../ledger/ledger-test-kit.ts";
import { LeaseSpendGuard } from "../../ledger/spend-guard.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { BudgetBook } from "./budget-book.ts";

const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);
const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The gateway's spend guard and the Budget agent's book wired in one process on one clock, as the simulator runs
 * them: leases are granted by the book, receipts go to it.
 */
async function guardAndBook(budgetMicros: bigint) {
  let now = T0 + 1_000;
  // 10,000 micros an ad at the max price: every lease is one ad (the 0.1% lease is raised to it).
  const campaign = create(CampaignSchema, {
    id: "c1",
    status: EntityStatus.ACTIVE,
    budgetMicros,
    startTime: timestampFromMs(T0),
    endTime: timestampFromMs(T0 + 3_600_000),
    pacing: PacingMode.ASAP,
    bidStrategy: { kind: BidStrategy_Kind.MAX_GOAL, maxCpmMicros: 10_000_000n },
  });
  const book = new BudgetBook({ leaseTtlMs: 5_000, reclaimGraceMs: 2_000 }, T0 - 60_000, "b");
  book.setCampaigns([campaign]);
  const receipts: DecisionReceipt[] = [];
  const denials: LeaseDenial[] = [];
  const guard = await LeaseSpendGuard.create({
    gatewayId: "gw",
    logger: createLogger("lease-parts-test", "silent"),
    clock: () => now,
    retryAfterMs: 250,
    leases: {
      request: async (request) => {
        const grant = book.grant(request, now);
        if (grant.amountMicros === 0n) denials.push(grant.denial);
        return grant;
      },
    },
    receipts: {
      put: async (r) => {
        receipts.push(r);
        book.onReceipt(r, now);
      },
    },
  });
  let n = 0;
  const sell = async (priceMicros: bigint) =>
    (await guard.commit(`d${++n}`, [{ campaignId: "c1", creativeId: "cr", priceMicros }])).length === 1;
  /** Moves the clock, lets the book reclaim, and lets the guard renew (its request is answered in a microtask). */
  const at = async (ms: number) => {
    now = T0 + ms;
    book.expire(now);
    guard.headroom("c1");
    await settle();
  };
  return {
    book,
    guard,
    receipts,
    denials,
    sell,
    at,
    sold: () => receipts.reduce((s, r) => s + r.items[0]!.priceMicros, 0n),
  };
}

describe("lease parts", () => {
  it("an ad spread over two leases: the receipt lists both parts, and once the older lease is reclaimed the book does not lease the newer one's rest again; spend never exceeds the budget", async () => {
    const budget = 22_000n;
    const { book, guard, receipts, denials, sell, at, sold } = await guardAndBook(budget);
    await at(1_000); // lease 1: 10,000
    expect(guard.headroom("c1")).toBe(10_000n);
    expect(await sell(7_000n)).toBe(true); // lease 1 keeps 3,000
    await at(3_500); // lease 2: 10,000 (exposure 7,000 sold + 3,000 unused)
    expect(guard.headroom("c1")).toBe(13_000n);
    expect(await sell(5_000n)).toBe(true); // fits lease 2 alone: 3,000 + 5,000 left
    // 7,000 fits neither lease: 3,000 from lease 1, 4,000 from lease 2, which keeps 1,000.
    expect(await sell(7_000n)).toBe(true);
    const spread = receipts.at(-1)!.items[0]!;
    expect(spread.leaseParts.map((p) => p.amountMicros)).toEqual([4_000n, 3_000n]);
    expect(spread.leaseId).toBe(spread.leaseParts[0]!.leaseId);
    expect(guard.headroom("c1")).toBe(1_000n);
    // 19,000 sold and 1,000 still held by the gateway: exactly what the book must count.
    expect(book.exposure("c1")).toBeGreaterThanOrEqual(20_000n);

    // Lease 1 is reclaimed (granted at 1,000; TTL 5,000 + grace 2,000) while the gateway still holds lease 2.
    await at(8_100);
    expect(guard.headroom("c1")).toBe(1_000n);
    expect(book.liveLeases("c1")).toBe(1);
    expect(book.exposure("c1")).toBe(20_000n);
    // 2,000 unreserved is less than the smallest lease (a quarter of an ad): nothing more is leased.
    expect(denials.at(-1)).toBe(LeaseDenial.EXHAUSTED);
    expect(await sell(1_000n)).toBe(true);
    for (let ms = 8_200; ms < 20_000; ms += 300) {
      await at(ms);
      while (guard.headroom("c1") > 0n) expect(await sell(guard.headroom("c1"))).toBe(true);
    }
    expect(sold()).toBeLessThanOrEqual(budget);
  });

  it("receipts without lease parts (written before they existed) still count their price against the lease named", () => {
    const book = new BudgetBook({}, T0 - 60_000, "b");
    book.setCampaigns([
      create(CampaignSchema, {
        id: "c1",
        status: EntityStatus.ACTIVE,
        budgetMicros: 10_000_000n,
        startTime: timestampFromMs(T0),
        endTime: timestampFromMs(T0 + 3_600_000),
        pacing: PacingMode.ASAP,
      }),
    ]);
    const grant = book.grant(create(LeaseRequestSchema, { gatewayId: "g", campaignId: "c1" }), T0 + 1_000);
    expect(book.exposure("c1")).toBe(grant.amountMicros);
    const old = receipt("d1", T0 + 1_000, [
      { campaignId: "c1", creativeId: "cr", priceMicros: 4_000n, leaseId: grant.leaseId },
    ]);
    const decoded = fromBinary(DecisionReceiptSchema, toBinary(DecisionReceiptSchema, old));
    expect(decoded.items[0]!.leaseParts).toEqual([]);
    book.onReceipt(decoded, T0 + 1_000);
    // 4,000 sold (pending) + the lease's unused rest.
    expect(book.exposure("c1")).toBe(grant.amountMicros);
    expect(book.exposure("c1", undefined, false)).toBe(4_000n);
    // Parts that do not add up to the price count against no lease: exposure is overstated, never understated.
    const malformed = receipt("d2", T0 + 1_000, [
      { campaignId: "c1", creativeId: "cr", priceMicros: 1_000n, leaseId: grant.leaseId },
    ]);
    malformed.items[0]!.leaseParts = [create(LeasePartSchema, { leaseId: grant.leaseId, amountMicros: 5_000n })];
    book.onReceipt(malformed, T0 + 1_000);
    expect(book.exposure("c1")).toBe(grant.amountMicros + 1_000n);
  });
});
