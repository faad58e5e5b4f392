import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type JetStreamClient, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type DecisionReceipt, DecisionReceiptSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { streams, subjects } from "../lib/subjects.ts";

export interface ReceiptStoreOptions {
  /** Receipts kept in memory for the report path (receipts never change once stored). */
  cacheSize?: number;
  publishTimeoutMs?: number;
}

/**
 * Decision receipts in the receipts stream: one subject per decision, Nats-Msg-Id = decision id, so storing the
 * same receipt twice (a replayed spool) stores it once. Lookups are direct gets, fronted by a small LRU.
 */
export class ReceiptStore {
  private readonly cache = new Map<string, DecisionReceipt>();
  private readonly cacheSize: number;
  private readonly publishTimeoutMs: number;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    options: ReceiptStoreOptions,
  ) {
    this.cacheSize = options.cacheSize ?? 100_000;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 2_000;
  }

  static async open(nc: NatsConnection, options: ReceiptStoreOptions = {}): Promise<ReceiptStore> {
    const jsm = await jetstreamManager(nc);
    return new ReceiptStore(jsm.jetstream(), jsm, options);
  }

  /** Resolves once stored; the receipt is then served from memory (its events usually come to the same gateway). */
  async put(receipt: DecisionReceipt): Promise<void> {
    try {
      await this.js.publish(subjects.receipt(receipt.decisionId), toBinary(DecisionReceiptSchema, receipt), {
        msgID: receipt.decisionId,
        timeout: this.publishTimeoutMs,
      });
    } catch (err) {
      // Beyond the duplicate window the per-subject limit refuses the repeat: the receipt is stored already.
      if (!isSubjectFull(err)) throw err;
    }
    this.remember(receipt);
  }

  async get(decisionId: string): Promise<DecisionReceipt | undefined> {
    const cached = this.cache.get(decisionId);
    if (cached) {
      this.cache.delete(decisionId);
      this.cache.set(decisionId, cached);
      return cached;
    }
    const stored = await this.jsm.direct.getMessage(streams.receipts, { last_by_subj: subjects.receipt(decisionId) });
    if (!stored) return undefined;
    return this.remember(fromBinary(DecisionReceiptSchema, stored.data));
  }

  private remember(receipt: DecisionReceipt): DecisionReceipt {
    this.cache.set(receipt.decisionId, receipt);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
    return receipt;
  }
}

/** JetStream's answer when a `discard_new_per_subject` stream already holds the subject's one message. */
export function isSubjectFull(err: unknown): boolean {
  return err instanceof Error && /maximum messages per subject exceeded/i.test(err.message);
}
