import { create } from "@bufbuild/protobuf";
import { AdEventType } from "../gen/chorus/v1/decision_pb.ts";
import {
  type CampaignSpend,
  CampaignSpendSchema,
  DaySpendSchema,
  type LedgerEntry,
  type LedgerSnapshot,
  LedgerSnapshotSchema,
} from "../gen/chorus/v1/ledger_pb.ts";

interface DayTotal {
  spend: bigint;
  impressions: bigint;
}

interface CampaignTotal extends DayTotal {
  other: bigint;
  days: Map<number, DayTotal>;
}

export const DAY_MS = 86_400_000;

/** UTC day number (days since 1970-01-01) of a time in ms. */
export const utcDay = (ms: number): number => Math.floor(ms / DAY_MS);

/** "2026-11-22" for a UTC day number. */
export const formatDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/**
 * Spend totals per campaign and per campaign-day, in integer micros: a pure fold over the events stream.
 * `apply` takes the stream sequence and ignores anything at or below the last applied one, so a redelivered
 * message is never counted twice; every stream message is a unique fact (see ledger-streams.ts), so applying each
 * sequence once is applying each event once.
 */
export class SpendTotals {
  lastSequence = 0n;
  eventsApplied = 0n;
  private readonly campaigns = new Map<string, CampaignTotal>();
  /** Campaigns changed since the snapshot writer last stored them (snapshot-store.ts writes only those). */
  readonly dirty = new Set<string>();

  /** Returns false when the sequence was applied already. */
  apply(sequence: bigint, entry: LedgerEntry): boolean {
    if (sequence <= this.lastSequence) return false;
    this.lastSequence = sequence;
    this.eventsApplied++;
    const total = this.campaignTotal(entry.campaignId);
    this.dirty.add(entry.campaignId);
    if (entry.event?.type !== AdEventType.IMPRESSION) {
      total.other++;
      return true;
    }
    total.spend += entry.chargeMicros;
    total.impressions++;
    let day = total.days.get(entry.chargeDay);
    if (!day) {
      day = { spend: 0n, impressions: 0n };
      total.days.set(entry.chargeDay, day);
    }
    day.spend += entry.chargeMicros;
    day.impressions++;
    return true;
  }

  /** Moves past a sequence that is not applied (a quarantined message): it is not read again. */
  skip(sequence: bigint): void {
    if (sequence > this.lastSequence) this.lastSequence = sequence;
  }

  /** Charged spend of a campaign, overall or on one UTC day. */
  spend(campaignId: string, day?: number): bigint {
    const total = this.campaigns.get(campaignId);
    if (!total) return 0n;
    return day === undefined ? total.spend : (total.days.get(day)?.spend ?? 0n);
  }

  campaignIds(): string[] {
    return [...this.campaigns.keys()].sort();
  }

  /** One campaign's totals as a message (undefined: no event of it yet). */
  campaignSpend(id: string, withDays = true): CampaignSpend | undefined {
    const t = this.campaigns.get(id);
    if (!t) return undefined;
    return create(CampaignSpendSchema, {
      campaignId: id,
      spendMicros: t.spend,
      impressions: t.impressions,
      otherEvents: t.other,
      days: withDays
        ? [...t.days.entries()]
            .sort(([a], [b]) => a - b)
            .map(([day, d]) => create(DaySpendSchema, { day, spendMicros: d.spend, impressions: d.impressions }))
        : [],
    });
  }

  /** Totals as a message: every campaign, or just one (an unknown campaign gives an empty list). */
  toSnapshot(campaignId?: string, withDays = true): LedgerSnapshot {
    const ids = campaignId === undefined || campaignId === "" ? this.campaignIds() : [campaignId];
    const campaigns: CampaignSpend[] = [];
    for (const id of ids) {
      const spend = this.campaignSpend(id, withDays);
      if (spend) campaigns.push(spend);
    }
    return create(LedgerSnapshotSchema, {
      lastSequence: this.lastSequence,
      eventsApplied: this.eventsApplied,
      campaigns,
    });
  }

  static fromSnapshot(snapshot: LedgerSnapshot): SpendTotals {
    const totals = new SpendTotals();
    totals.lastSequence = snapshot.lastSequence;
    totals.eventsApplied = snapshot.eventsApplied;
    for (const c of snapshot.campaigns) {
      totals.campaigns.set(c.campaignId, {
        spend: c.spendMicros,
        impressions: c.impressions,
        other: c.otherEvents,
        days: new Map(c.days.map((d) => [d.day, { spend: d.spendMicros, impressions: d.impressions }])),
      });
    }
    return totals;
  }

  private campaignTotal(id: string): CampaignTotal {
    let total = this.campaigns.get(id);
    if (!total) {
      total = { spend: 0n, impressions: 0n, other: 0n, days: new Map() };
      this.campaigns.set(id, total);
    }
    return total;
  }
}
