import { createHash } from "node:crypto";
import type { DecisionReceipt } from "../gen/chorus/v1/ledger_pb.ts";

/**
 * The id of a receipt batch, from the decision ids it holds (in order): the same batch published again (a retry
 * after a lost ack) has the same Nats-Msg-Id and subject, so JetStream stores it once. 128 bits of SHA-256 in
 * base64url: a subject token, and no two different batches share one.
 */
export function receiptBatchId(receipts: readonly DecisionReceipt[]): string {
  const hash = createHash("sha256");
  for (const r of receipts) hash.update(r.decisionId).update("\n");
  return hash.digest().subarray(0, 16).toString("base64url");
}

const BATCH_ID = /^[A-Za-z0-9_-]{22}$/;

/** Whether `id` can be a receipt batch id (checked before it is used in a subject). */
export const isReceiptBatchId = (id: string): boolean => BATCH_ID.test(id);
