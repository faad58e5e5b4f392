import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Campaign, EntityStatus } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import {
  type CampaignBudget,
  CampaignBudgetSchema,
  type DecisionReceipt,
  LeaseDenial,
  type LeaseGrant,
  LeaseGrantSchema,
  type LeaseRequest,
  type LedgerEntry,
  type ReceiptItem,
} from "../../gen/chorus/v1/ledger_pb.ts";
import { SpendTotals, utcDay } from "../../ledger/spend-totals.ts";
import { DEFAULT_TRAFFIC_CURVE, plannedShare } from "./pacing-plan.ts";

export interface BudgetPolicy {
  /**
   * Largest lease as a share of the campaign budget (default 0.1%), raised to one ad at the campaign's max price
   * where that is more: the most a campaign can overspend when the agent's view is incomplete.
   */
  maxLeaseShare: number;
  leaseTtlMs: number;
  /** After a lease's TTL, wait this long for its last receipts before reclaiming what it did not use. */
  reclaimGraceMs: number;
  /** Sold ads count as spend this long (plus the grace) unless their impression arrives; equals the sink's limit. */
  impressionWindowMs: number;
  /** Leases follow the plan this far ahead (share of the flight), so delivery does not trail it. */
  lookaheadShare: number;
  /**
   * The last part of a budget, once less than one ad at the max price is left, is still leased down to this share
   * of such an ad: the gateway caps the campaign's bid at its lease, so it sells that part at a price it covers.
   */
  tailShareOfAd: number;
  trafficCurve: readonly number[];
}

export const DEFAULT_BUDGET_POLICY: BudgetPolicy = {
  maxLeaseShare: 0.001,
  leaseTtlMs: 5_000,
  reclaimGraceMs: 2_000,
  impressionWindowMs: 10 * 60_000,
  lookaheadShare: 0.01,
  tailShareOfAd: 0.25,
  trafficCurve: DEFAULT_TRAFFIC_CURVE,
};

interface Sold {
  campaignId: string;
  day: number;
  price: bigint;
  soldAt: number;
}

interface HeldLease {
  id: string;
  campaignId: string;
  amount: bigint;
  sold: bigint;
  grantedAt: number;
}

interface PendingSums {
  total: bigint;
  days: Map<number, bigint>;
}

/**
 * The Budget agent's books: what each campaign has been charged (the events stream), what was sold but not yet
 * charged (receipts whose impression may still come), and the leases out with gateways. Its invariant:
 *
 *   exposure = charged + sold-not-yet-charged + unused part of live leases <= budget (and <= today's cap)
 *
 * A lease is granted only if the invariant still holds with it; gateways sell only within leases; an ad sold
 * but never impressed stops counting only once the sink would refuse its impression (impression window). So
 * charged spend never exceeds the budget while the agent's view is complete; the one-lease margin of the issue
 * covers the case where it is not (receipts delayed past a lease's reclaim). Pure: time comes in as `nowMs`.
 */
export class BudgetBook {
  charged = new SpendTotals();
  readonly policy: BudgetPolicy;
  private readonly campaigns = new Map<string, Campaign>();
  private readonly pending = new Map<string, Sold>();
  private readonly pendingSums = new Map<string, PendingSums>();
  /** Ads charged within the impression window, so that a late or replayed receipt does not count them again. */
  private readonly chargedRecently = new Map<string, number>();
  private readonly leases = new Map<string, HeldLease>();
  private readonly leasesByCampaign = new Map<string, Set<HeldLease>>();
  private leaseCounter = 0;
  /** Leases granted before a restart are unknown: none is granted until they have all expired. */
  readonly recoveringUntil: number;

  /**
   * `knowsLeases`: the book was fed the lease log (every lease still live, whoever granted it) before its first
   * grant, so it need not wait for unknown leases to expire.
   */
  constructor(
    policy: Partial<BudgetPolicy>,
    startedAtMs: number,
    private readonly instanceId: string,
    { knowsLeases = false } = {},
  ) {
    this.policy = { ...DEFAULT_BUDGET_POLICY, ...policy };
    this.recoveringUntil = knowsLeases
      ? startedAtMs
      : startedAtMs + this.policy.leaseTtlMs + this.policy.reclaimGraceMs;
  }

  /**
   * A lease from the lease log (granted by this book, a predecessor or a deposed leader): counted as exposure
   * until reclaimed like the book's own. Known ids are left as they are; an already-expired lease is ignored.
   */
  adoptLease(grant: LeaseGrant, grantedAtMs: number, nowMs: number): void {
    if (this.leases.has(grant.leaseId) || grant.amountMicros <= 0n) return;
    if (nowMs - grantedAtMs > this.policy.leaseTtlMs + this.policy.reclaimGraceMs) return;
    const lease = {
      id: grant.leaseId,
      campaignId: grant.campaignId,
      amount: grant.amountMicros,
      sold: 0n,
      grantedAt: grantedAtMs,
    };
    this.leases.set(lease.id, lease);
    let held = this.leasesByCampaign.get(lease.campaignId);
    if (!held) {
      held = new Set();
      this.leasesByCampaign.set(lease.campaignId, held);
    }
    held.add(lease);
  }

  /** Starts from the ledger's persisted totals; the events after its sequence are applied as they come. */
  loadCharged(totals: SpendTotals): void {
    this.charged = totals;
  }

  /** Leases currently out, for the signal and tests. */
  liveLeases(campaignId: string): number {
    return this.leasesByCampaign.get(campaignId)?.size ?? 0;
  }

  setCampaigns(campaigns: Iterable<Campaign>): void {
    this.campaigns.clear();
    for (const c of campaigns) this.campaigns.set(c.id, c);
  }

  campaignIds(): string[] {
    return [...this.campaigns.keys()].sort();
  }

  onReceipt(receipt: DecisionReceipt, nowMs: number): void {
    const soldAt = receipt.decidedAt ? timestampMs(receipt.decidedAt) : nowMs;
    for (const item of receipt.items) {
      const key = `${receipt.decisionId}\u0000${item.creativeId}`;
      if (this.pending.has(key)) continue; // a receipt seen twice
      this.countAgainstLeases(item);
      if (this.chargedRecently.has(key) || nowMs - soldAt > this.soldWindow()) continue;
      const sold = { campaignId: item.campaignId, day: utcDay(soldAt), price: item.priceMicros, soldAt };
      this.pending.set(key, sold);
      this.addPending(sold, 1n);
    }
  }

  /**
   * Counts a sold ad against the leases that paid for it: the whole price against the one lease named, or, when
   * the price was spread over several, each part against its lease (counting the whole price against one of
   * them would hide the rest that lease still holds once the others are reclaimed, and lease it again). Parts
   * that are not positive or do not add up to the price (a malformed receipt) count against no lease: their
   * leases' unused parts then overstate exposure until reclaimed, never understate it.
   */
  private countAgainstLeases(item: ReceiptItem): void {
    const parts = item.leaseParts;
    if (parts.length === 0) {
      const lease = this.leases.get(item.leaseId);
      if (lease) lease.sold += item.priceMicros;
      return;
    }
    let sum = 0n;
    for (const part of parts) {
      if (part.amountMicros <= 0n) return;
      sum += part.amountMicros;
    }
    if (sum !== item.priceMicros) return;
    for (const part of parts) {
      const lease = this.leases.get(part.leaseId);
      if (lease) lease.sold += part.amountMicros;
    }
  }

  /**
   * An entry of the events stream. `charge` false (or a sequence the charged totals already hold) only marks
   * the ad as charged, so that its receipt does not count it as pending.
   */
  onEntry(sequence: bigint, entry: LedgerEntry, nowMs: number, charge = true): void {
    if (charge) this.charged.apply(sequence, entry);
    const event = entry.event;
    if (event?.type !== AdEventType.IMPRESSION) return;
    const key = `${event.decisionId}\u0000${event.creativeId}`;
    this.chargedRecently.set(key, nowMs);
    const sold = this.pending.get(key);
    if (sold) {
      this.pending.delete(key);
      this.addPending(sold, -1n);
    }
  }

  /** Nothing that `expire` would ever drop: no sold-not-charged ad, no recent charge, no lease. */
  holdsNothing(): boolean {
    return this.pending.size === 0 && this.chargedRecently.size === 0 && this.leases.size === 0;
  }

  /**
   * Drops ads that can no longer be charged and reclaims leases past TTL + grace whose end the receipts feed has
   * read past: `receiptsReadAtMs` is when the book last had every stored receipt (its feed caught up). A feed
   * that stalls (its server restarted, the process starved) then holds leases back instead of letting their
   * unused part be leased again before their sales are counted. -Infinity while the agent may be missing receipts
   * that are not stored yet (NATS just came back and gateways are still replaying their spools).
   */
  expire(nowMs: number, receiptsReadAtMs = nowMs): void {
    const window = this.soldWindow();
    for (const [key, sold] of this.pending)
      if (nowMs - sold.soldAt > window) {
        this.pending.delete(key);
        this.addPending(sold, -1n);
      }
    for (const [key, at] of this.chargedRecently) if (nowMs - at > window) this.chargedRecently.delete(key);
    for (const [id, lease] of this.leases)
      if (
        nowMs - lease.grantedAt > this.policy.leaseTtlMs + this.policy.reclaimGraceMs &&
        receiptsReadAtMs - lease.grantedAt > this.policy.leaseTtlMs
      ) {
        this.leases.delete(id);
        this.leasesByCampaign.get(lease.campaignId)?.delete(lease);
      }
  }

  /**
   * Charged + sold-not-charged + unused live leases (unless `withLeases` is false), overall or on one UTC day
   * (live leases count on any day).
   */
  exposure(campaignId: string, day?: number, withLeases = true): bigint {
    const sums = this.pendingSums.get(campaignId);
    const pending = day === undefined ? (sums?.total ?? 0n) : (sums?.days.get(day) ?? 0n);
    let leased = 0n;
    if (withLeases)
      for (const lease of this.leasesByCampaign.get(campaignId) ?? [])
        if (lease.amount > lease.sold) leased += lease.amount - lease.sold;
    return this.charged.spend(campaignId, day) + pending + leased;
  }

  grant(request: LeaseRequest, nowMs: number): LeaseGrant {
    const deny = (denial: LeaseDenial, reason: string) =>
      create(LeaseGrantSchema, { campaignId: request.campaignId, denial, reason });
    if (nowMs < this.recoveringUntil)
      return deny(LeaseDenial.RECOVERING, "budget agent restarted; waiting for earlier leases to expire");
    const campaign = this.campaigns.get(request.campaignId);
    if (!campaign || !this.serving(campaign, nowMs))
      return deny(LeaseDenial.NOT_SERVING, "campaign unknown, not active or outside its flight");
    // A lease is one ad at the campaign's max price at least, so that any price it wins at fits; below that the
    // campaign waits for the plan. Only the last part of the budget, less than one such ad, is leased as it is
    // (down to tailShareOfAd of an ad): the gateway caps the campaign's bid at its lease, so it sells it at a
    // price the lease covers instead of stranding it.
    const ad = adPriceMicros(campaign);
    const available = this.available(campaign, nowMs, true);
    if (available < this.tailLease(campaign))
      return deny(LeaseDenial.EXHAUSTED, "less than the smallest lease left unreserved");
    const least = available < ad ? available : ad;
    const paced = this.plannedSpend(campaign, nowMs, true) - this.exposure(campaign.id);
    if (paced < least) return deny(LeaseDenial.THROTTLED, "ahead of the pacing plan");
    const maxLease = this.maxLease(campaign);
    // Shrink near the end: an eighth of what is left, so the last budget is spread over gateways, not stranded.
    const shrunk = available / 8n > maxLease / 10n ? available / 8n : maxLease / 10n;
    const wanted = min(maxLease, shrunk);
    // Never above what is left or what the plan allows: exposure stays <= budget (and cap) exactly.
    const amount = min(available, paced, wanted > least ? wanted : least);
    const id = `${this.instanceId}-${++this.leaseCounter}`;
    const lease = { id, campaignId: campaign.id, amount, sold: 0n, grantedAt: nowMs };
    this.leases.set(id, lease);
    let held = this.leasesByCampaign.get(campaign.id);
    if (!held) {
      held = new Set();
      this.leasesByCampaign.set(campaign.id, held);
    }
    held.add(lease);
    return create(LeaseGrantSchema, {
      leaseId: id,
      campaignId: campaign.id,
      amountMicros: amount,
      ttlMs: this.policy.leaseTtlMs,
    });
  }

  /** The campaign's state as published in the Budget agent's signal. */
  status(campaignId: string, nowMs: number): CampaignBudget {
    const campaign = this.campaigns.get(campaignId);
    if (!campaign) return create(CampaignBudgetSchema, { campaignId, exhausted: true });
    const sums = this.pendingSums.get(campaignId);
    const spent = this.charged.spend(campaignId) + (sums?.total ?? 0n);
    const planned = this.plannedSpend(campaign, nowMs, false);
    const paceRatio = planned > 0n ? Number(spent) / Number(planned) : spent > 0n ? 2 : 1;
    // Exhausted = not even the smallest lease is left. Unused leases do not count here: the gateways holding them
    // may still sell within them, and a veto would strand the budget's last lease.
    const exhausted = this.available(campaign, nowMs, false) < this.tailLease(campaign);
    return create(CampaignBudgetSchema, {
      campaignId,
      budgetMicros: campaign.budgetMicros,
      remainingMicros: campaign.budgetMicros - spent,
      dailyRemainingMicros:
        campaign.dailyBudgetMicros > 0n
          ? campaign.dailyBudgetMicros - this.exposure(campaignId, utcDay(nowMs))
          : campaign.budgetMicros - spent,
      paceRatio,
      // Ahead of plan by a quarter or more: skip it entirely; behind: bid up to 1.5x.
      throttleProbability: clamp((paceRatio - 1) * 4, 0, 1),
      bidMultiplier: clamp(2 - paceRatio, 0.5, 1.5),
      exhausted,
      serving: this.serving(campaign, nowMs),
    });
  }

  /** Budget (and today's cap) minus charged and sold spend, and minus unused live leases when `leased`. */
  private available(campaign: Campaign, nowMs: number, leased: boolean): bigint {
    const left = campaign.budgetMicros - this.exposure(campaign.id, undefined, leased);
    if (campaign.dailyBudgetMicros <= 0n) return left;
    return min(left, campaign.dailyBudgetMicros - this.exposure(campaign.id, utcDay(nowMs), leased));
  }

  private plannedSpend(campaign: Campaign, nowMs: number, ahead: boolean): bigint {
    const start = campaign.startTime ? timestampMs(campaign.startTime) : nowMs;
    const end = campaign.endTime ? timestampMs(campaign.endTime) : nowMs;
    const lookahead = ahead ? Math.max((end - start) * this.policy.lookaheadShare, 2 * this.policy.leaseTtlMs) : 0;
    const share = plannedShare(campaign, nowMs + lookahead, this.policy.trafficCurve);
    // Integer micros: the share is scaled to parts per billion before it touches money.
    return (campaign.budgetMicros * BigInt(Math.round(share * 1e9))) / 1_000_000_000n;
  }

  /** The smallest lease: tailShareOfAd of one ad at the max price (1 micro at least). */
  private tailLease(campaign: Campaign): bigint {
    const least = (adPriceMicros(campaign) * BigInt(Math.round(this.policy.tailShareOfAd * 1e6))) / 1_000_000n;
    return least > 0n ? least : 1n;
  }

  private maxLease(campaign: Campaign): bigint {
    const lease = (campaign.budgetMicros * BigInt(Math.round(this.policy.maxLeaseShare * 1e9))) / 1_000_000_000n;
    return lease > 0n ? lease : 1n;
  }

  private serving(campaign: Campaign, nowMs: number): boolean {
    const start = campaign.startTime ? timestampMs(campaign.startTime) : 0;
    const end = campaign.endTime ? timestampMs(campaign.endTime) : Number.POSITIVE_INFINITY;
    return campaign.status === EntityStatus.ACTIVE && nowMs >= start && nowMs < end;
  }

  private soldWindow(): number {
    return this.policy.impressionWindowMs + this.policy.reclaimGraceMs;
  }

  private addPending(sold: Sold, sign: 1n | -1n): void {
    let sums = this.pendingSums.get(sold.campaignId);
    if (!sums) {
      sums = { total: 0n, days: new Map() };
      this.pendingSums.set(sold.campaignId, sums);
    }
    sums.total += sign * sold.price;
    sums.days.set(sold.day, (sums.days.get(sold.day) ?? 0n) + sign * sold.price);
  }
}

/**
 * The most one ad of the campaign can cost: its max CPM / 1000, rounded up (the Bidding agent never bids above
 * it). 1 micro when the campaign names no max bid.
 */
export function adPriceMicros(campaign: Campaign): bigint {
  const cpm = campaign.bidStrategy?.maxCpmMicros ?? 0n;
  return cpm > 0n ? (cpm + 999n) / 1000n : 1n;
}

const min = (...values: bigint[]): bigint => values.reduce((a, b) => (b < a ? b : a));
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
