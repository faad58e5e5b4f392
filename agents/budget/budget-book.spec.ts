import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { type Campaign, CampaignSchema, EntityStatus, PacingMode } from "../../gen/chorus/v1/campaign_pb.ts";

import { LeaseDenial, LeaseRequestSchema, LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { adEvent, receipt } from "../../ledger/ledger-test-kit.ts";
import { utcDay } from "../../ledger/spend-totals.ts";
import { BudgetBook } from "./budget-book.ts";
import { DEFAULT_TRAFFIC_CURVE } from "./pacing-plan.ts";

const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);
const HOUR = 3_600_000;

function campaign(over: MessageInitShape<typeof CampaignSchema> = {}): Campaign {
  return create(CampaignSchema, {
    id: "c1",
    status: EntityStatus.ACTIVE,
    budgetMicros: 10_000_000n,
    startTime: timestampFromMs(T0),
    endTime: timestampFromMs(T0 + 24 * HOUR),
    pacing: PacingMode.ASAP,
    ...over,
  });
}

const ask = (book: BudgetBook, now: number, gatewayId = "g1", campaignId = "c1") =>
  book.grant(create(LeaseRequestSchema, { gatewayId, campaignId }), now);

/** Sells `price` ads against a lease and reports their impressions, as a gateway and the sink would. */
function sell(
  book: BudgetBook,
  now: number,
  leaseId: string,
  n: number,
  price: bigint,
  seq: { next: bigint },
  id = "c1",
) {
  for (let i = 0; i < n; i++) {
    const d = `d-${seq.next}`;
    book.onReceipt(receipt(d, now, [{ campaignId: id, creativeId: "cr", priceMicros: price, leaseId }]), now);
    const entry = create(LedgerEntrySchema, {
      event: adEvent(`e-${seq.next}`, d, "cr", now),
      campaignId: id,
      chargeMicros: price,
      chargeDay: utcDay(now),
    });
    book.onEntry(seq.next++, entry, now);
  }
}

describe("budget book", () => {
  it("lease - none while recovering from a restart, then at most 0.1% of the budget", () => {
    const book = new BudgetBook({}, T0 + HOUR, "a");
    book.setCampaigns([campaign()]);
    expect(ask(book, T0 + HOUR + 1_000).denial).toBe(LeaseDenial.RECOVERING);
    const grant = ask(book, T0 + HOUR + 8_000);
    expect(grant.amountMicros).toBe(10_000n);
    expect(grant.ttlMs).toBe(5_000);
  });

  it("lease - the unused part of an expired lease is reclaimed after the grace period", () => {
    const book = new BudgetBook({}, T0, "a");
    book.setCampaigns([campaign({ budgetMicros: 100_000n })]);
    const now = T0 + 10_000;
    const lease = ask(book, now);
    expect(book.exposure("c1")).toBe(lease.amountMicros);
    sell(book, now, lease.leaseId, 1, 30n, { next: 1n });
    expect(book.exposure("c1")).toBe(lease.amountMicros);
    book.expire(now + 6_000);
    expect(book.liveLeases("c1")).toBe(1); // inside TTL + grace: maybe receipts still in flight
    book.expire(now + 7_001);
    expect(book.liveLeases("c1")).toBe(0);
    expect(book.exposure("c1")).toBe(30n);
  });

  it("lease - an expired lease is kept until the receipts feed has read past its end, however late that is", () => {
    const book = new BudgetBook({}, T0, "a");
    book.setCampaigns([campaign({ budgetMicros: 100_000n })]);
    const now = T0 + 10_000;
    const lease = ask(book, now);
    // The feed stalled at the grant: past TTL + grace, but the lease's sales may not have been read yet.
    book.expire(now + 60_000, now);
    expect(book.liveLeases("c1")).toBe(1);
    book.expire(now + 60_000, now + 5_000);
    expect(book.liveLeases("c1")).toBe(1); // read up to the lease's end, not past it
    // The feed resumes and brings a sale made under the lease before its end: counted, then the rest is reclaimed.
    sell(book, now + 4_000, lease.leaseId, 1, 30n, { next: 1n });
    book.expire(now + 60_001, now + 60_001);
    expect(book.liveLeases("c1")).toBe(0);
    expect(book.exposure("c1")).toBe(30n);
    // While receipts may still be replayed (no position), nothing is reclaimed at all.
    const second = ask(book, now + 60_001);
    book.expire(now + 120_000, Number.NEGATIVE_INFINITY);
    expect(book.liveLeases("c1")).toBe(1);
    expect(book.exposure("c1")).toBe(30n + second.amountMicros);
  });

  it("lease - sizes shrink as the budget nears its end, and nothing is leased beyond it", () => {
    const book = new BudgetBook({ maxLeaseShare: 0.1 }, T0, "a");
    book.setCampaigns([campaign({ budgetMicros: 1_000_000n })]);
    const sizes: bigint[] = [];
    let now = T0 + 10_000;
    const seq = { next: 1n };
    for (;;) {
      const g = ask(book, now);
      if (g.amountMicros === 0n) {
        expect(g.denial).toBe(LeaseDenial.EXHAUSTED);
        break;
      }
      sizes.push(g.amountMicros);
      sell(book, now, g.leaseId, 1, g.amountMicros, seq);
      now += 10;
    }
    expect(sizes[0]).toBe(100_000n);
    expect(sizes.at(-1)).toBeLessThan(20_000n);
    expect(book.charged.spend("c1")).toBe(1_000_000n);
  });

  it("lease - one ad at the max price at least, the budget's last part (less than one ad) as it is; never overspent", () => {
    // 250,000 micros at up to 17,000 an ad: a 5% lease (12,500) could not hold one ad.
    const book = new BudgetBook({ maxLeaseShare: 0.05 }, T0, "a");
    book.setCampaigns([campaign({ budgetMicros: 250_000n, bidStrategy: { maxCpmMicros: 17_000_000n } })]);
    let now = T0 + 10_000;
    const seq = { next: 1n };
    const sizes: bigint[] = [];
    for (;;) {
      const g = ask(book, now);
      if (g.amountMicros === 0n) {
        expect(g.denial).toBe(LeaseDenial.EXHAUSTED);
        break;
      }
      sizes.push(g.amountMicros);
      // The gateway caps the bid at the lease: the last ad sells for what the lease holds.
      sell(book, now, g.leaseId, 1, g.amountMicros, seq);
      now += 10;
    }
    expect(sizes).toEqual([...Array(14).fill(17_000n), 12_000n]);
    expect(book.charged.spend("c1")).toBe(250_000n);
    expect(book.status("c1", now).exhausted).toBe(true);
  });

  it("lease - below a quarter of an ad at the max price, the rest of a budget is exhausted", () => {
    const book = new BudgetBook({ maxLeaseShare: 0.05 }, T0, "a");
    book.setCampaigns([campaign({ budgetMicros: 38_000n, bidStrategy: { maxCpmMicros: 17_000_000n } })]);
    const seq = { next: 1n };
    for (const now of [T0 + 10_000, T0 + 10_010]) {
      const g = ask(book, now);
      sell(book, now, g.leaseId, 1, 17_000n, seq);
    }
    // 4,000 left < 4,250 (a quarter of 17,000).
    expect(ask(book, T0 + 10_020).denial).toBe(LeaseDenial.EXHAUSTED);
    expect(book.status("c1", T0 + 10_020).exhausted).toBe(true);
  });

  it("lease - a lease of one ad waits until the pacing plan allows a whole ad", () => {
    // EVEN over 100 s, 10 ads of 15,000: the lookahead (2 x TTL = 2 s) covers a fifth of an ad.
    const book = new BudgetBook({ leaseTtlMs: 1_000, reclaimGraceMs: 0 }, T0 - 10_000, "a");
    book.setCampaigns([
      campaign({
        budgetMicros: 150_000n,
        bidStrategy: { maxCpmMicros: 15_000_000n },
        pacing: PacingMode.EVEN,
        endTime: timestampFromMs(T0 + 100_000),
      }),
    ]);
    expect(ask(book, T0 + 1_000).denial).toBe(LeaseDenial.THROTTLED); // plan at 3 s: 4,500
    const g = ask(book, T0 + 9_000); // plan at 11 s: 16,500
    expect(g.amountMicros).toBe(15_000n);
    expect(ask(book, T0 + 9_000).denial).toBe(LeaseDenial.THROTTLED);
  });

  it("status - a campaign whose last ad is leased out is not exhausted: the gateway holding the lease may sell it", () => {
    const book = new BudgetBook({}, T0, "a");
    book.setCampaigns([campaign({ budgetMicros: 20_000n, bidStrategy: { maxCpmMicros: 10_000_000n } })]);
    const now = T0 + 10_000;
    const first = ask(book, now);
    const second = ask(book, now);
    expect([first.amountMicros, second.amountMicros]).toEqual([10_000n, 10_000n]);
    expect(ask(book, now).denial).toBe(LeaseDenial.EXHAUSTED); // all of it reserved
    expect(book.status("c1", now).exhausted).toBe(false);
    sell(book, now, first.leaseId, 1, 10_000n, { next: 1n });
    sell(book, now, second.leaseId, 1, 9_000n, { next: 2n });
    expect(book.status("c1", now).exhausted).toBe(true); // 1,000 left: not one more ad
  });

  it("lease - a sold ad without impression counts until the impression window closes", () => {
    const book = new BudgetBook({ impressionWindowMs: 60_000 }, T0, "a");
    book.setCampaigns([campaign({ budgetMicros: 1_000n, dailyBudgetMicros: 500n })]);
    const now = T0 + 10_000;
    book.onReceipt(receipt("d1", now, [{ campaignId: "c1", creativeId: "cr", priceMicros: 500n }]), now);
    expect(ask(book, now).denial).toBe(LeaseDenial.EXHAUSTED); // daily cap fully sold
    book.expire(now + 63_000);
    expect(book.exposure("c1")).toBe(0n);
  });

  for (const pacing of [PacingMode.EVEN, PacingMode.TRAFFIC_SHAPED]) {
    it(`pacing - a ${PacingMode[pacing]} flight with enough inventory delivers at least 98% and never overspends`, () => {
      // A 2-day flight, simulated minute by minute: 4 gateways, traffic following the daily curve, each
      // opportunity worth one 1000-micro impression when a gateway holds headroom. Far more traffic than budget.
      const budget = 20_000_000n;
      const flightStart = T0 + 3 * HOUR;
      const flightEnd = flightStart + 48 * HOUR;
      const book = new BudgetBook({ leaseTtlMs: 60_000, reclaimGraceMs: 60_000 }, flightStart - 10 * 60_000, "a");
      book.setCampaigns([
        campaign({
          budgetMicros: budget,
          startTime: timestampFromMs(flightStart),
          endTime: timestampFromMs(flightEnd),
          pacing,
        }),
      ]);
      const leases = new Map<string, { id: string; left: bigint; expires: number }>();
      const seq = { next: 1n };
      const hourly = new Map<number, bigint>();
      for (let now = flightStart; now < flightEnd; now += 60_000) {
        book.expire(now);
        const hour = new Date(now).getUTCHours();
        for (let g = 0; g < 4; g++) {
          let lease = leases.get(`g${g}`);
          if (!lease || lease.expires <= now || lease.left < 1_000n) {
            const grant = ask(book, now, `g${g}`);
            lease =
              grant.amountMicros > 0n
                ? { id: grant.leaseId, left: grant.amountMicros, expires: now + grant.ttlMs }
                : undefined;
            if (lease) leases.set(`g${g}`, lease);
            else leases.delete(`g${g}`);
          }
          const opportunities = Math.round(20 * (DEFAULT_TRAFFIC_CURVE[hour] ?? 0));
          for (let i = 0; i < opportunities && lease && lease.left >= 1_000n; i++) {
            lease.left -= 1_000n;
            sell(book, now, lease.id, 1, 1_000n, seq);
            hourly.set(hour, (hourly.get(hour) ?? 0n) + 1_000n);
          }
        }
      }
      const spent = book.charged.spend("c1");
      expect(spent).toBeLessThanOrEqual(budget);
      expect(Number(spent)).toBeGreaterThanOrEqual(0.98 * Number(budget));
      // Shaped pacing spends more at the evening peak than at 3 am; even pacing about the same.
      const ratio = Number(hourly.get(18) ?? 0n) / Number(hourly.get(3) ?? 1n);
      if (pacing === PacingMode.TRAFFIC_SHAPED) expect(ratio).toBeGreaterThan(4);
      else expect(ratio).toBeLessThan(1.5);
    });
  }

  it("status - pace ratio, throttle and bid multiplier follow spend against plan", () => {
    const book = new BudgetBook({}, T0 - HOUR, "a");
    book.setCampaigns([campaign({ pacing: PacingMode.EVEN })]);
    const now = T0 + 12 * HOUR;
    const behind = book.status("c1", now);
    expect(behind.paceRatio).toBe(0);
    expect(behind.bidMultiplier).toBe(1.5);
    sell(book, now, "", 1, 7_500_000n, { next: 1n });
    const ahead = book.status("c1", now);
    expect(ahead.paceRatio).toBeCloseTo(1.5, 5);
    expect(ahead.throttleProbability).toBe(1);
    expect(ask(book, now).denial).toBe(LeaseDenial.THROTTLED);
  });
});
