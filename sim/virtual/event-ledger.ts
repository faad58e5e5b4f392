import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type AdEvent, AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import { type DecisionReceipt, type LedgerEntry, LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { checkEvent, DEFAULT_EVENT_LIMITS, type EventLimits } from "../../ledger/event-rules.ts";
import { eventSubject, factMessageId } from "../../ledger/event-sink.ts";
import { utcDay } from "../../ledger/spend-totals.ts";
import { subjects } from "../../lib/subjects.ts";

/** An accepted event: its stream sequence, the entry, and the subject agents receive its copy on. */
export interface AcceptedEntry {
  sequence: bigint;
  entry: LedgerEntry;
  acceptedSubject: string;
}

/**
 * The events stream of one process: ReportEvents' rules (ledger/event-rules.ts checkEvent against the decision
 * receipt, each fact once: impressions and follow-ups by their fact id, conversions by their slot subject), the
 * entries numbered as the stream would, and the subject the stream republishes each on for the agents.
 */
export class EventLedger {
  private readonly receipts = new Map<string, DecisionReceipt>();
  private readonly facts = new Set<string>();
  private sequence = 0n;
  rejected = 0;
  duplicates = 0;
  readonly limits: EventLimits;

  constructor(limits: Partial<EventLimits> = {}) {
    this.limits = { ...DEFAULT_EVENT_LIMITS, ...limits };
  }

  putReceipt(receipt: DecisionReceipt): void {
    this.receipts.set(receipt.decisionId, receipt);
  }

  /** One ReportEvents call at `nowMs`: the accepted entries, in the order the stream stores them. */
  report(events: readonly AdEvent[], nowMs: number): AcceptedEntry[] {
    const out: AcceptedEntry[] = [];
    // Impressions first, as a client reports them; the order only numbers the entries.
    const phase = (impressions: boolean) => {
      for (const e of events) {
        if ((e.type === AdEventType.IMPRESSION) !== impressions) continue;
        const receipt = this.receipts.get(e.decisionId);
        const check = checkEvent(e, receipt, nowMs, this.limits);
        if (!check.ok) {
          this.rejected++;
          continue;
        }
        const subject = eventSubject(e, check.item.campaignId);
        // Kept for the whole run: a simulation is shorter than the stream's duplicate window would need to be.
        const fact = e.type === AdEventType.CONVERSION ? subject : factMessageId(e);
        if (this.facts.has(fact)) {
          this.duplicates++;
          continue;
        }
        this.facts.add(fact);
        const entry = create(LedgerEntrySchema, {
          event: e,
          campaignId: check.item.campaignId,
          chargeMicros: e.type === AdEventType.IMPRESSION ? check.item.priceMicros : 0n,
          chargeDay: utcDay(check.decidedAtMs),
          userId: receipt?.userId ?? "",
          acceptedAt: timestampFromMs(nowMs),
        });
        out.push({
          sequence: ++this.sequence,
          entry,
          // The events stream republishes chorus.events.> as chorus.accepted.> (ledger/ledger-streams.ts).
          acceptedSubject: subjects.acceptedEventsAll.slice(0, -1) + subject.slice(subjects.adEventsAll.length - 1),
        });
      }
    };
    phase(true);
    phase(false);
    return out;
  }
}
