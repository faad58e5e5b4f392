import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type JetStreamClient, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type DecisionReceipt, DecisionReceiptSchema, ReceiptBatchSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { trimToCap } from "../lib/collections/lru.ts";
import { streams, subjects } from "../lib/subjects.ts";
import { isReceiptBatchId, receiptBatchId } from "./receipt-batch-id.ts";

export interface ReceiptStoreOptions {
  /** Receipts kept in memory for the report path (receipts never change once stored; default 50,000, encoded). */
  cacheSize?: number;
  /**
   * Decision id -> batch id entries kept for event tokens (default 16,384): a token is signed right after its
   * decision's receipt is stored, so only the decisions still being answered need theirs.
   */
  batchIndexSize?: number;
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
  /**
   * Decision id -> its receipt's wire encoding (and listener, for erasure). Encoded, not as objects: 100,000
   * receipt objects held ~80 MB of a gateway's heap, their encodings a fraction of that.
   */
  private readonly cache = new Map<string, { userId: string; bytes: Uint8Array }>();
  /** Decision id -> id of the batch its receipt was stored in (for event tokens). */
  private readonly batches = new Map<string, string>();
  private readonly cacheSize: number;
  private readonly batchIndexSize: number;
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
    this.cacheSize = options.cacheSize ?? 50_000;
    this.batchIndexSize = options.batchIndexSize ?? 16_384;
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
      return fromBinary(DecisionReceiptSchema, cached.bytes);
    }
    const stored = await this.jsm.direct.getMessage(streams.receipts, { last_by_subj: subjects.receipt(decisionId) });
    if (stored) {
      const receipt = fromBinary(DecisionReceiptSchema, stored.data);
      this.remember(receipt, stored.data);
      return receipt;
    }
    if (batchId === undefined || !isReceiptBatchId(batchId)) return undefined;
    const batch = await this.jsm.direct.getMessage(streams.receipts, {
      last_by_subj: subjects.receiptBatch(batchId),
    });
    if (!batch) return undefined;
    let found: DecisionReceipt | undefined;
    for (const receipt of fromBinary(ReceiptBatchSchema, batch.data).receipts) {
      if (receipt.decisionId === decisionId) found = receipt;
    }
    if (found) this.remember(found, toBinary(DecisionReceiptSchema, found));
    return found;
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
    // Each receipt is encoded once: for the cache, and framed into the batch (a ReceiptBatch's encoding is its
    // receipts' encodings, each behind field 1's tag and its length).
    const encoded = receipts.map((r) => toBinary(DecisionReceiptSchema, r));
    try {
      await this.js.publish(
        alone ? subjects.receipt(id) : subjects.receiptBatch(id),
        alone ? encoded[0]! : frameReceiptBatch(encoded),
        {
          msgID: id,
          timeout: this.publishTimeoutMs,
        },
      );
    } catch (err) {
      // Beyond the duplicate window the per-subject limit refuses the repeat: the receipt (batch) is stored already.
      if (!isSubjectFull(err)) throw err;
    }
    receipts.forEach((receipt, i) => {
      this.remember(receipt, encoded[i]!);
      if (!alone) this.batches.set(receipt.decisionId, id);
    });
    trimToCap(this.batches, this.batchIndexSize);
  }

  private remember(receipt: DecisionReceipt, bytes: Uint8Array): void {
    if (this.cacheSize <= 0) return;
    this.cache.set(receipt.decisionId, { userId: receipt.userId, bytes });
    trimToCap(this.cache, this.cacheSize);
  }
}

/** The encoding of ReceiptBatch{receipts} from the receipts' own encodings (field 1, length-delimited). */
export function frameReceiptBatch(encoded: readonly Uint8Array[]): Uint8Array {
  const lengthBytes = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
  const out = new Uint8Array(encoded.reduce((a, e) => a + 1 + lengthBytes(e.byteLength) + e.byteLength, 0));
  let at = 0;
  for (const e of encoded) {
    out[at++] = 0x0a; // field 1, wire type 2
    let n = e.byteLength;
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    out.set(e, at);
    at += e.byteLength;
  }
  return out;
}

/** JetStream's answer when a `discard_new_per_subject` stream already holds the subject's one message. */
export function isSubjectFull(err: unknown): boolean {
  return err instanceof Error && /maximum messages per subject exceeded/i.test(err.message);
}
