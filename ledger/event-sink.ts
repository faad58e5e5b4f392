import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type JetStreamClient, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type AdEvent,
  AdEventType,
  EventRejection,
  type EventResult,
  EventResult_Status,
  EventResultSchema,
  type ReportEventsRequest,
  type ReportEventsResponse,
  ReportEventsResponseSchema,
} from "../gen/chorus/v1/decision_pb.ts";
import { type DecisionReceipt, LedgerEntrySchema } from "../gen/chorus/v1/ledger_pb.ts";
import { isSubjectTaken, ONLY_IF_EMPTY } from "../lib/nats/empty-subject.ts";
import { subjects } from "../lib/subjects.ts";
import { ConnectionWatch } from "./connection-watch.ts";
import { checkEvent, DEFAULT_EVENT_LIMITS, type EventLimits, eventTypeToken } from "./event-rules.ts";
import type { EventSink } from "./ports.ts";
import { ReceiptStore } from "./receipt-store.ts";
import { utcDay } from "./spend-totals.ts";

export interface EventSinkOptions {
  nc: NatsConnection;
  limits?: Partial<EventLimits>;
  /** Server clock in ms (tests inject one). */
  clock?: () => number;
  publishTimeoutMs?: number;
  /** Share one store with the gateway's SpendGuard (see SpendGuardOptions.receipts). */
  receipts?: ReceiptStore;
  /** The campaign's own largest conversion value (Campaign.max_conversion_value_micros; 0n/undefined = default). */
  maxConversionValue?: (campaignId: string) => bigint | undefined;
}

/**
 * The subject an event is stored under: `chorus.events.<type>.<campaign>`, except conversions, which have
 * `conversionsPerAd` subjects per ad (`slot` 0..n-1) and are stored only on an empty one, so the store itself
 * refuses one past the limit, across gateways and at any time after the decision.
 */
export function eventSubject(event: AdEvent, campaignId: string, slot = 0): string {
  if (event.type !== AdEventType.CONVERSION) return subjects.adEvent(eventTypeToken(event.type), campaignId);
  return subjects.adEvent(eventTypeToken(event.type), campaignId, [event.decisionId, event.creativeId, `c${slot}`]);
}

/**
 * The Nats-Msg-Id of an impression or follow-up: one id per fact (type, decision, creative), whatever event id the
 * client sent, so a second copy of the fact inside the duplicate window is refused. Hashed: nats-server keeps every
 * id of the window in memory, and 22 characters cost less than the ids themselves.
 */
export function factMessageId(event: AdEvent): string {
  return `f.${hash(`${event.type}\u0000${event.decisionId}\u0000${event.creativeId}`)}`;
}

/**
 * The Nats-Msg-Id of a conversion: its event id within its ad, so a retry inside the window is a duplicate. Never
 * the client's event id as it is: ids share the stream's window, and one chosen to equal another ad's fact id
 * would have that fact refused.
 */
export function conversionMessageId(event: AdEvent): string {
  return `c.${hash(`${event.decisionId}\u0000${event.creativeId}\u0000${event.eventId}`)}`;
}

const hash = (key: string) => createHash("sha256").update(key).digest().subarray(0, 16).toString("base64url");

/**
 * ReportEvents: checks each event against its decision receipt, stores the accepted ones in the events stream
 * (enriched with campaign, price and charge day from the receipt) and answers once JetStream acknowledged them.
 *
 * Exactly once: an impression or follow-up is accepted only inside its window after the decision (event-rules.ts),
 * and its Nats-Msg-Id names the fact (`factMessageId`: an ad is impressed once, whatever event ids the client
 * sends), so the stream's duplicate window, which covers those windows, refuses every second copy. A conversion is
 * stored on its ad's first empty slot subject (expected last subject sequence 0); a repeated event inside the
 * window is caught by its Nats-Msg-Id (`conversionMessageId`). Repeats are reported as DUPLICATE. While NATS is
 * unreachable the call fails with UNAVAILABLE and nothing is half-counted: the client retries and the repeats are
 * refused.
 */
export class JetStreamEventSink implements EventSink {
  private readonly limits: EventLimits;
  private readonly clock: () => number;
  private readonly publishTimeoutMs: number;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly receipts: ReceiptStore,
    private readonly watch: ConnectionWatch,
    options: EventSinkOptions,
  ) {
    this.limits = { ...DEFAULT_EVENT_LIMITS, ...options.limits };
    this.clock = options.clock ?? Date.now;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 2_000;
    this.maxConversionValue = options.maxConversionValue ?? (() => undefined);
  }

  private readonly maxConversionValue: (campaignId: string) => bigint | undefined;

  static async create(options: EventSinkOptions): Promise<JetStreamEventSink> {
    // No account-info round trip (checkAPI): it only adds a request that can time out while a server restarts.
    const jsm = await jetstreamManager(options.nc, { checkAPI: false });
    const receipts = options.receipts ?? (await ReceiptStore.open(options.nc));
    return new JetStreamEventSink(jsm.jetstream(), receipts, new ConnectionWatch(options.nc), options);
  }

  async report(
    request: ReportEventsRequest,
    receiptLocators?: ReadonlyMap<string, string>,
  ): Promise<ReportEventsResponse> {
    if (!this.watch.connected)
      throw new ConnectError("ReportEvents: the event store is unreachable; retry later", Code.Unavailable);
    try {
      return await this.store(request.events, receiptLocators);
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      throw new ConnectError(
        `ReportEvents: the event store did not acknowledge (${(err as Error).message}); retry — repeated events are counted once`,
        Code.Unavailable,
        undefined,
        undefined,
        err,
      );
    }
  }

  private async store(
    events: readonly AdEvent[],
    receiptLocators: ReadonlyMap<string, string> | undefined,
  ): Promise<ReportEventsResponse> {
    const now = this.clock();
    const receiptLookups = new Map<string, Promise<DecisionReceipt | undefined>>();
    for (const e of events)
      if (e.decisionId && !receiptLookups.has(e.decisionId))
        receiptLookups.set(e.decisionId, this.receipts.get(e.decisionId, receiptLocators?.get(e.decisionId)));
    const results: EventResult[] = new Array(events.length);
    const store = async (i: number, e: AdEvent, receipt: DecisionReceipt | undefined) => {
      const check = checkEvent(e, receipt, now, this.limits);
      if (!check.ok) {
        results[i] = result(e, EventResult_Status.REJECTED, check.rejection, check.reason);
        return;
      }
      if (e.type === AdEventType.CONVERSION) {
        const campaignMax = this.maxConversionValue(check.item.campaignId);
        const max = campaignMax && campaignMax > 0n ? campaignMax : this.limits.maxConversionValueMicros;
        if (e.valueMicros > max) {
          results[i] = result(
            e,
            EventResult_Status.REJECTED,
            EventRejection.IMPOSSIBLE_VALUE,
            `value_micros: ${e.valueMicros} is above the campaign's maximum conversion value of ${max}`,
          );
          return;
        }
      }
      const entry = create(LedgerEntrySchema, {
        event: e,
        campaignId: check.item.campaignId,
        chargeMicros: e.type === AdEventType.IMPRESSION ? check.item.priceMicros : 0n,
        chargeDay: utcDay(check.decidedAtMs),
        userId: receipt?.userId ?? "",
        acceptedAt: timestampFromMs(now),
      });
      const data = toBinary(LedgerEntrySchema, entry);
      results[i] =
        e.type === AdEventType.CONVERSION
          ? await this.publishConversion(e, check.item.campaignId, data)
          : await this.publishFact(e, eventSubject(e, check.item.campaignId), data);
    };
    await Promise.all(events.map(async (e, i) => store(i, e, await receiptLookups.get(e.decisionId))));
    const count = (s: EventResult_Status) => results.filter((r) => r.status === s).length;
    return create(ReportEventsResponseSchema, {
      accepted: count(EventResult_Status.ACCEPTED),
      duplicates: count(EventResult_Status.DUPLICATE),
      rejected: count(EventResult_Status.REJECTED),
      results,
    });
  }

  /** An impression or follow-up: a second copy of its fact inside the duplicate window is acknowledged as duplicate. */
  private async publishFact(e: AdEvent, subject: string, data: Uint8Array): Promise<EventResult> {
    const ack = await this.js.publish(subject, data, { msgID: factMessageId(e), timeout: this.publishTimeoutMs });
    if (ack.duplicate)
      return result(
        e,
        EventResult_Status.DUPLICATE,
        EventRejection.UNSPECIFIED,
        `the ${eventTypeToken(e.type)} of this ad was counted before`,
      );
    return result(e, EventResult_Status.ACCEPTED, EventRejection.UNSPECIFIED, "");
  }

  /** The first free conversion slot of the ad; none free is CONVERSION_LIMIT (a repeated event id: DUPLICATE). */
  private async publishConversion(e: AdEvent, campaignId: string, data: Uint8Array): Promise<EventResult> {
    for (let slot = 0; slot < this.limits.conversionsPerAd; slot++) {
      try {
        const ack = await this.js.publish(eventSubject(e, campaignId, slot), data, {
          msgID: conversionMessageId(e),
          timeout: this.publishTimeoutMs,
          expect: ONLY_IF_EMPTY,
        });
        if (ack.duplicate)
          return result(e, EventResult_Status.DUPLICATE, EventRejection.UNSPECIFIED, "event_id was stored before");
        return result(e, EventResult_Status.ACCEPTED, EventRejection.UNSPECIFIED, "");
      } catch (err) {
        if (!isSubjectTaken(err)) throw err;
      }
    }
    return result(
      e,
      EventResult_Status.REJECTED,
      EventRejection.CONVERSION_LIMIT,
      `type: this ad already has ${this.limits.conversionsPerAd} conversion(s), the most counted per decision and creative`,
    );
  }
}

function result(e: AdEvent, status: EventResult_Status, rejection: EventRejection, reason: string): EventResult {
  return create(EventResultSchema, { eventId: e.eventId, status, rejection, reason });
}

/** The EventSink the gateway uses. */
export function createEventSink(options: EventSinkOptions): Promise<JetStreamEventSink> {
  return JetStreamEventSink.create(options);
}
