import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type AdEvent, AdEventType, EventRejection } from "../gen/chorus/v1/decision_pb.ts";
import {
  type DecisionReceipt,
  type LedgerEntry,
  LedgerEntrySchema,
  type ReceiptItem,
} from "../gen/chorus/v1/ledger_pb.ts";
import { type ReadResult, readMessage } from "../lib/nats/read-message.ts";

export interface EventLimits {
  /** Client clocks may run ahead this much; later `occurred_at` values are impossible. */
  maxClockSkewMs: number;
  /**
   * Impressions are charged only if reported within this time after the decision. The Budget agent counts a sold
   * but unreported ad as spend for exactly this long, so a later impression could overspend: it is refused.
   */
  impressionWindowMs: number;
  /**
   * Quartiles, completes, clicks and the other events that follow an impression are counted only if reported within
   * this time after the decision. Each is counted once by a JetStream duplicate window that must cover this (and the
   * impression window): see `duplicateWindowFor`. Conversions have no such window (see conversionsPerAd).
   */
  followUpWindowMs: number;
  /** Conversions counted per decision and creative; later ones are CONVERSION_LIMIT. */
  conversionsPerAd: number;
  /** Largest conversion value when the campaign sets none (Campaign.max_conversion_value_micros = 0). */
  maxConversionValueMicros: bigint;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = {
  maxClockSkewMs: 5 * 60_000,
  impressionWindowMs: 10 * 60_000,
  // An ad plays within the impression window; its quartiles, complete and clicks follow within its length.
  followUpWindowMs: 15 * 60_000,
  conversionsPerAd: 1,
  maxConversionValueMicros: 1_000_000_000n,
};

export type EventCheck =
  | { ok: true; item: ReceiptItem; decidedAtMs: number }
  | { ok: false; rejection: EventRejection; reason: string };

const reject = (rejection: EventRejection, reason: string): EventCheck => ({ ok: false, rejection, reason });

/** Lower-case type name used in subjects: "impression", "first_quartile", ... */
export function eventTypeToken(type: AdEventType): string {
  return (AdEventType[type] ?? "unspecified").toLowerCase();
}

/**
 * Whether an event can be stored, judged against the server's receipt of its decision (never the client's word
 * on price or campaign). Pure: `nowMs` is the server's clock.
 */
export function checkEvent(
  event: AdEvent,
  receipt: DecisionReceipt | undefined,
  nowMs: number,
  limits: EventLimits,
): EventCheck {
  if (!event.eventId) return reject(EventRejection.IMPOSSIBLE_VALUE, "event_id: required");
  if (!(event.type in AdEventType) || event.type === AdEventType.UNSPECIFIED)
    return reject(EventRejection.IMPOSSIBLE_VALUE, `type: ${event.type} is not an ad event type`);
  if (event.valueMicros < 0n)
    return reject(EventRejection.IMPOSSIBLE_VALUE, `value_micros: ${event.valueMicros} is negative`);
  if (event.valueMicros > 0n && event.type !== AdEventType.CONVERSION)
    return reject(EventRejection.IMPOSSIBLE_VALUE, "value_micros: only conversions carry a value");
  if (!event.occurredAt) return reject(EventRejection.TIMESTAMP_OUT_OF_RANGE, "occurred_at: required");
  if (!receipt)
    return reject(
      EventRejection.UNKNOWN_DECISION,
      `decision_id: "${event.decisionId}" was not sold by this ad server (or its receipt has expired)`,
    );
  const item = receipt.items.find((i) => i.creativeId === event.creativeId);
  if (!item)
    return reject(
      EventRejection.CREATIVE_NOT_IN_DECISION,
      `creative_id: "${event.creativeId}" is not part of decision "${event.decisionId}"`,
    );
  const occurredMs = timestampMs(event.occurredAt);
  const decidedAtMs = receipt.decidedAt ? timestampMs(receipt.decidedAt) : 0;
  if (occurredMs > nowMs + limits.maxClockSkewMs)
    return reject(
      EventRejection.TIMESTAMP_OUT_OF_RANGE,
      `occurred_at: ${Math.round((occurredMs - nowMs) / 1000)} s in the future`,
    );
  if (occurredMs < decidedAtMs - limits.maxClockSkewMs)
    return reject(
      EventRejection.TIMESTAMP_OUT_OF_RANGE,
      `occurred_at: ${Math.round((decidedAtMs - occurredMs) / 1000)} s before the decision`,
    );
  if (event.type === AdEventType.IMPRESSION && nowMs - decidedAtMs > limits.impressionWindowMs)
    return reject(
      EventRejection.TIMESTAMP_OUT_OF_RANGE,
      `impression reported ${Math.round((nowMs - decidedAtMs) / 1000)} s after the decision; ` +
        `the limit is ${Math.round(limits.impressionWindowMs / 1000)} s`,
    );
  // Never shorter than the impression window: an ad impressed late still has its follow-ups counted.
  const followUpWindowMs = Math.max(limits.followUpWindowMs, limits.impressionWindowMs);
  if (
    event.type !== AdEventType.IMPRESSION &&
    event.type !== AdEventType.CONVERSION &&
    nowMs - decidedAtMs > followUpWindowMs
  )
    return reject(
      EventRejection.TIMESTAMP_OUT_OF_RANGE,
      `${eventTypeToken(event.type)} reported ${Math.round((nowMs - decidedAtMs) / 1000)} s after the decision; ` +
        `the limit is ${Math.round(followUpWindowMs / 1000)} s`,
    );
  return { ok: true, item, decidedAtMs };
}

/** Clocks of gateways and NATS servers may differ by this much; the duplicate window covers it. */
const CLOCK_MARGIN_MS = 60_000;

/**
 * The shortest JetStream duplicate window of the events stream that counts every impression and follow-up once:
 * a fact can be reported again until its window after the decision closes, and its Nats-Msg-Id (the fact's key)
 * is remembered for the duplicate window after it was stored, which is after the decision.
 */
export function duplicateWindowFor(limits: Pick<EventLimits, "impressionWindowMs" | "followUpWindowMs">): number {
  return Math.max(limits.impressionWindowMs, limits.followUpWindowMs) + CLOCK_MARGIN_MS;
}

/** Days since 1970-01-01 of 2000-01-01 and 2100-01-01: the charge days a ledger entry may name. */
const MIN_CHARGE_DAY = 10_957;
const MAX_CHARGE_DAY = 47_482;
/** One impression never costs more than this (a $1M CPM): anything above is not a sale this ad server made. */
export const MAX_CHARGE_MICROS = 1_000_000_000n;

/**
 * Why an entry read from the events stream cannot be applied (undefined: it can). The gateway writes only entries
 * that pass; this guards the ledger and the Budget agent against anything else that reached the stream.
 */
export function ledgerEntryProblem(entry: LedgerEntry): string | undefined {
  if (!entry.campaignId) return "campaign_id: empty";
  if (!entry.event) return "event: missing";
  if (!(entry.event.type in AdEventType) || entry.event.type === AdEventType.UNSPECIFIED)
    return `event.type: ${entry.event.type} is not an ad event type`;
  if (entry.chargeMicros < 0n || entry.chargeMicros > MAX_CHARGE_MICROS)
    return `charge_micros: ${entry.chargeMicros} is outside 0..${MAX_CHARGE_MICROS}`;
  if (entry.chargeMicros > 0n && entry.event.type !== AdEventType.IMPRESSION)
    return "charge_micros: only impressions are charged";
  if (entry.chargeDay < MIN_CHARGE_DAY || entry.chargeDay > MAX_CHARGE_DAY)
    return `charge_day: ${entry.chargeDay} is outside 2000-2100`;
  return undefined;
}

/** A ledger entry from the events stream, decoded and checked; never throws. */
export function readLedgerEntry(bytes: Uint8Array): ReadResult<LedgerEntry> {
  const read = readMessage(LedgerEntrySchema, bytes);
  if (!read.ok) return read;
  const problem = ledgerEntryProblem(read.message);
  return problem ? { ok: false, reason: "out_of_range", detail: problem } : read;
}
