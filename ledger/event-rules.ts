import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type AdEvent, AdEventType, EventRejection } from "../gen/chorus/v1/decision_pb.ts";
import type { DecisionReceipt, ReceiptItem } from "../gen/chorus/v1/ledger_pb.ts";

export interface EventLimits {
  /** Client clocks may run ahead this much; later `occurred_at` values are impossible. */
  maxClockSkewMs: number;
  /**
   * Impressions are charged only if reported within this time after the decision. The Budget agent counts a sold
   * but unreported ad as spend for exactly this long, so a later impression could overspend: it is refused.
   */
  impressionWindowMs: number;
  /** Conversions counted per decision and creative; later ones are CONVERSION_LIMIT. */
  conversionsPerAd: number;
  /** Largest conversion value when the campaign sets none (Campaign.max_conversion_value_micros = 0). */
  maxConversionValueMicros: bigint;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = {
  maxClockSkewMs: 5 * 60_000,
  impressionWindowMs: 10 * 60_000,
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
  return { ok: true, item, decidedAtMs };
}
