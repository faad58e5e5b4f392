import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DecisionReceipt, LeaseGrantSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import { LeaseSpendGuard } from "./spend-guard.ts";

const MARGIN_MS = 100;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The headroom the guard answers, against a model of the leases it holds: every grant (amount, local expiry) less
 * every part of them that a stored receipt names, leases past their expiry gone; 0 while an ad refused for want of
 * headroom costs more than that. Random grants, denials, commits (prices that fit one lease, need several, or fit
 * none; from 0, a free ad: always sold, reserving nothing) and clock moves.
 */
describe("spend guard - headroom", () => {
  it("spend guard - headroom equals the held leases less what their receipts reserved", async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("grant" as const),
        amount: fc.bigInt({ min: 0n, max: 5_000n }),
        ttl: fc.integer({ min: 200, max: 5_000 }),
      }),
      fc.record({
        kind: fc.constant("commit" as const),
        prices: fc.array(fc.bigInt({ min: 0n, max: 3_000n }), { minLength: 1, maxLength: 3 }),
      }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 2_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        let now = 1_000_000;
        const grants: { amount: bigint; ttl: number }[] = [];
        const leases = new Map<string, { amount: bigint; used: bigint; expiresAt: number }>();
        // Granted, not yet applied by the guard (it applies a grant once the request's promise settles).
        let landing: [string, { amount: bigint; used: bigint; expiresAt: number }][] = [];
        let shortOf: bigint | undefined;
        let n = 0;
        const guard = await LeaseSpendGuard.create({
          gatewayId: "gw",
          logger: createLogger("headroom-spec", "silent"),
          clock: () => now,
          retryAfterMs: 0,
          leases: {
            request: async () => {
              const sentAt = now;
              const g = grants.shift() ?? { amount: 0n, ttl: 1_000 };
              const leaseId = `l${n++}`;
              if (g.amount > 0n)
                landing.push([leaseId, { amount: g.amount, used: 0n, expiresAt: sentAt + g.ttl - MARGIN_MS }]);
              return create(LeaseGrantSchema, { leaseId, amountMicros: g.amount, ttlMs: g.ttl, epoch: 1n });
            },
          },
          receipts: {
            put: async (receipt: DecisionReceipt) => {
              for (const item of receipt.items) {
                if (item.priceMicros === 0n) continue; // nothing reserved, whatever lease it names
                const parts =
                  item.leaseParts.length > 0
                    ? item.leaseParts
                    : [{ leaseId: item.leaseId, amountMicros: item.priceMicros }];
                for (const p of parts) leases.get(p.leaseId)!.used += p.amountMicros;
              }
            },
          },
        });
        const expected = () => {
          let left = 0n;
          for (const l of leases.values()) if (l.expiresAt > now) left += l.amount - l.used;
          return shortOf !== undefined && left < shortOf ? 0n : left;
        };
        // The model takes the grants the guard has applied: it applies one once the request's promise settles, so
        // after any await of the test.
        const landed = () => {
          for (const [id, lease] of landing) leases.set(id, lease);
          if (landing.length > 0) shortOf = undefined;
          landing = [];
        };
        for (const [i, o] of ops.entries()) {
          if (o.kind === "grant") grants.push(o);
          else if (o.kind === "advance") now += o.ms;
          else {
            const items = o.prices.map((priceMicros, k) => ({ campaignId: "c", creativeId: `cr${k}`, priceMicros }));
            const before = expected();
            const sold = await guard.commit(`d${i}`, items);
            for (const item of items) if (item.priceMicros === 0n) expect(sold).toContain(item);
            // An item refused for want of headroom: headroom reads 0 below its price until the next lease.
            for (const item of items)
              if (
                !sold.includes(item) &&
                item.priceMicros > 0n &&
                item.priceMicros > before - soldBefore(items, item, sold)
              )
                shortOf = shortOf !== undefined && shortOf < item.priceMicros ? shortOf : item.priceMicros;
            landed(); // a lease asked for during the commit landed while its receipt was stored
          }
          expect(guard.headroom("c")).toBe(expected());
          await tick(); // a lease request the read started lands
          landed();
          expect(guard.headroom("c")).toBe(expected());
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("spend guard - free ads", () => {
  /** A guard whose Budget side grants `grants` in turn (then denies), keeping the receipts it is given. */
  const freeAdGuard = async (grants: Record<string, bigint>) => {
    const receipts: DecisionReceipt[] = [];
    const guard = await LeaseSpendGuard.create({
      gatewayId: "gw",
      logger: createLogger("free-ads-spec", "silent"),
      leases: {
        request: async (request) =>
          create(LeaseGrantSchema, {
            leaseId: `lease-${request.campaignId}`,
            amountMicros: grants[request.campaignId] ?? 0n,
            ttlMs: 60_000,
            epoch: 1n,
          }),
      },
      receipts: { put: async (receipt) => void receipts.push(receipt) },
    });
    return { guard, receipts };
  };

  it("free ads - a 0-price ad of a campaign holding no lease is sold, its receipt written naming no lease", async () => {
    const { guard, receipts } = await freeAdGuard({});
    const item = { campaignId: "c", creativeId: "cr", priceMicros: 0n };
    expect(await guard.commit("d", [item])).toEqual([item]);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]!.items.map((i) => [i.creativeId, i.priceMicros, i.leaseId, i.leaseParts.length])).toEqual([
      ["cr", 0n, "", 0],
    ]);
  });

  it("free ads - beside a paid ad in the same pod: both sold on one receipt, the paid one reserved once", async () => {
    const { guard, receipts } = await freeAdGuard({ paid: 100n });
    guard.headroom("paid");
    await tick(); // the lease lands
    const paid = { campaignId: "paid", creativeId: "p", priceMicros: 40n };
    const free = { campaignId: "free", creativeId: "f", priceMicros: 0n };
    expect(await guard.commit("d", [paid, free])).toEqual([paid, free]);
    expect(guard.headroom("paid")).toBe(60n);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]!.items.map((i) => [i.creativeId, i.priceMicros, i.leaseId])).toEqual([
      ["p", 40n, "lease-paid"],
      ["f", 0n, ""],
    ]);
  });
});

/** What the items sold before `item` in the same commit took (they were reserved first). */
function soldBefore<T extends { priceMicros: bigint }>(items: readonly T[], item: T, sold: readonly T[]): bigint {
  let taken = 0n;
  for (const other of items) {
    if (other === item) break;
    if (sold.includes(other)) taken += other.priceMicros;
  }
  return taken;
}
