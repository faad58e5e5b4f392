import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type JetStreamClient, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type DecisionReceipt, DecisionReceiptSchema, ReceiptBatchSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { streams, subjects } from "../lib/subjects.ts";
import { isReceiptBatchId, receiptBatchId } from "./receipt-batch-id.ts";

export interface ReceiptStoreOptions {
  /** Receipts kept in memory for the report path (receipts never change once stored). */
  cacheSize?: number;
  publishTimeoutMs?: number;
  /** Most receipts in one batch message (default 256; 1 = every receipt alone, as before group commit). */
  maxBatch?: number;
}

interface Waiting {
  receipt: DecisionReceipt;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Decision receipts in the receipts stream, stored by group commit: a receipt put while no publish is in flight
 * goes out in the same turn of the event loop (with any others put in that turn); receipts put while a publish
 * waits for its ack wait for it, then go out together as one ReceiptBatch message. Every put resolves only once
 * the message holding its receipt is acknowledged. So at low rates nothing waits, and at high rates one publish,
 * one ack and one stored message carry many decisions (the per-message work in nats.js and nats-server was the
 * biggest part of a decision's NATS cost).
 *
 * A receipt stored alone keeps its subject per decision and Nats-Msg-Id = decision id; a batch has subject
 * `chorus.receipts.batch.<id>` and Nats-Msg-Id <id>, the id derived from its decision ids (receipt-batch-id.ts), so
 * storing the same receipt or batch twice stores it once. Readers (the Budget book) apply each receipt of a batch as
 * a receipt of its own and drop one they have seen (a receipt may come again alone, from a replayed spool).
 * Lookups: the in-memory LRU (events usually come back to the gateway that decided), else the decision's own
 * subject, else the batch named by the ad's event token (`batchOf`).
 */
export class ReceiptStore {
  private readonly cache = new Map<string, DecisionReceipt>();
  /** Decision id -> id of the batch its receipt was stored in (for event tokens), bounded like the cache. */
  private readonly batches = new Map<string, string>();
  private readonly cacheSize: number;
  private readonly publishTimeoutMs: number;
  private readonly maxBatch: number;
  private waiting: Waiting[] = [];
  private publishing = false;
  private scheduled = false;
  /** Publishes made (one per batch or lone receipt), for tests and benchmarks. */
  publishes = 0;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    options: ReceiptStoreOptions,
  ) {
    this.cacheSize = options.cacheSize ?? 100_000;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 2_000;
    this.maxBatch = Math.max(1, options.maxBatch ?? 256);
  }

  static async open(nc: NatsConnection, options: ReceiptStoreOptions = {}): Promise<ReceiptStore> {
    // No account-info round trip (checkAPI): it only adds a request that can time out while a server restarts.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    return new ReceiptStore(jsm.jetstream(), jsm, options);
  }

  /** Resolves once stored; the receipt is then served from memory (its events usually come to the same gateway). */
  put(receipt: DecisionReceipt): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ receipt, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Erasure: drops the listeners' receipts (bus pseudonyms) from memory; returns how many. An event for one of their
   * decisions then needs the stored receipt, which `chorus users forget` erases: it is refused, never charged twice.
   */
  forgetUsers(pseudonyms: ReadonlySet<string>): number {
    let dropped = 0;
    for (const [id, receipt] of this.cache)
      if (pseudonyms.has(receipt.userId)) {
        this.cache.delete(id);
        this.batches.delete(id);
        dropped++;
      }
    return dropped;
  }

  /** The batch a receipt put here was stored in (undefined: stored alone, or forgotten). */
  batchOf(decisionId: string): string | undefined {
    return this.batches.get(decisionId);
  }

  /**
   * The receipt of a decision: from memory, from its own subject, or from the batch `batchId` (from the ad's event
   * token) when that holds it.
   */
  async get(decisionId: string, batchId?: string): Promise<DecisionReceipt | undefined> {
    const cached = this.cache.get(decisionId);
    if (cached) {
      this.cache.delete(decisionId);
      this.cache.set(decisionId, cached);
      return cached;
    }
    const stored = await this.jsm.direct.getMessage(streams.receipts, { last_by_subj: subjects.receipt(decisionId) });
    if (stored) return this.remember(fromBinary(DecisionReceiptSchema, stored.data));
    if (batchId === undefined || !isReceiptBatchId(batchId)) return undefined;
    const batch = await this.jsm.direct.getMessage(streams.receipts, {
      last_by_subj: subjects.receiptBatch(batchId),
    });
    if (!batch) return undefined;
    let found: DecisionReceipt | undefined;
    for (const receipt of fromBinary(ReceiptBatchSchema, batch.data).receipts) {
      if (receipt.decisionId === decisionId) found = receipt;
    }
    return found && this.remember(found);
  }

  private schedule(): void {
    if (this.publishing || this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    // setImmediate, not a microtask: receipts of the decisions finished in this turn of the event loop go together.
    setImmediate(this.publishWaiting);
  }

  private readonly publishWaiting = (): void => {
    this.scheduled = false;
    const batch = this.waiting.length <= this.maxBatch ? this.waiting : this.waiting.slice(0, this.maxBatch);
    this.waiting = batch === this.waiting ? [] : this.waiting.slice(this.maxBatch);
    this.publishing = true;
    this.publish(batch.map((w) => w.receipt)).then(
      () => {
        this.publishing = false;
        for (const w of batch) w.resolve();
        this.schedule();
      },
      (err: unknown) => {
        this.publishing = false;
        for (const w of batch) w.reject(err);
        this.schedule();
      },
    );
  };

  private async publish(receipts: readonly DecisionReceipt[]): Promise<void> {
    this.publishes++;
    const [first] = receipts;
    const alone = receipts.length === 1;
    const id = alone ? first!.decisionId : receiptBatchId(receipts);
    try {
      await this.js.publish(
        alone ? subjects.receipt(id) : subjects.receiptBatch(id),
        alone
          ? toBinary(DecisionReceiptSchema, first!)
          : toBinary(ReceiptBatchSchema, create(ReceiptBatchSchema, { receipts: [...receipts] })),
        { msgID: id, timeout: this.publishTimeoutMs },
      );
    } catch (err) {
      // Beyond the duplicate window the per-subject limit refuses the repeat: the receipt (batch) is stored already.
      if (!isSubjectFull(err)) throw err;
    }
    for (const receipt of receipts) {
      this.remember(receipt);
      if (!alone) this.batches.set(receipt.decisionId, id);
    }
    while (this.batches.size > this.cacheSize) this.batches.delete(this.batches.keys().next().value as string);
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
