import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type AdEvent, AdEventSchema, AdEventType } from "../gen/chorus/v1/decision_pb.ts";
import { type DecisionReceipt, DecisionReceiptSchema, ReceiptItemSchema } from "../gen/chorus/v1/ledger_pb.ts";

/** Builders shared by the ledger's tests, the fault driver and the fault script. */
export function receipt(
  decisionId: string,
  decidedAtMs: number,
  items: { campaignId: string; creativeId: string; priceMicros: bigint; leaseId?: string }[],
): DecisionReceipt {
  return create(DecisionReceiptSchema, {
    decisionId,
    decidedAt: timestampFromMs(decidedAtMs),
    userId: "u1",
    gatewayId: "test",
    items: items.map((i) => create(ReceiptItemSchema, { ...i, leaseId: i.leaseId ?? "" })),
  });
}

export function adEvent(
  eventId: string,
  decisionId: string,
  creativeId: string,
  occurredAtMs: number,
  type = AdEventType.IMPRESSION,
  valueMicros = 0n,
): AdEvent {
  return create(AdEventSchema, {
    eventId,
    decisionId,
    creativeId,
    type,
    occurredAt: timestampFromMs(occurredAtMs),
    valueMicros,
  });
}
