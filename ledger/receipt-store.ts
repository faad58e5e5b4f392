import { fromBinary } from "@bufbuild/protobuf";
import { type JetStreamClient, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type DecisionReceipt, DecisionReceiptSchema, ReceiptBatchSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { encodeDecisionReceipt } from "../lib/codecs/decision-receipt.ts";
import { trimToCap } from "../lib/collections/lru.ts";
import { isSubjectTaken, ONLY_IF_EMPTY } from "../lib/nats/empty-subject.ts";
import { streams, subjects } from "../lib/subjects.ts";
import { isReceiptBatchId, receiptBatchId } from "./receipt-batch-id.ts";

export interface ReceiptStoreOptions {
  /** Receipts kept in memory for the report path (receipts never change once stored; default 50,000, encoded). */
  cacheSize?: number;
  /**
   * Decision id -> receipt locator entries kept for event tokens (default 16,384): a token is signed right after
   * its decision's receipt is stored, so only the decisions still being answered need theirs.
   */
  locatorIndexSize?: number;
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
 * The stream is a log on two subjects (`subjects.receiptLogOne`, `receiptLogBatch`): nats-server keeps every
 * subject of a stream in memory, and one per decision grew without bound. A receipt stored alone has
 * Nats-Msg-Id = decision id, a batch the id derived from its decision ids (receipt-batch-id.ts), so a retried
 * publish inside the duplicate window is stored once; readers (the Budget book) apply each receipt of a batch as a
 * receipt of its own and drop one they have seen. The ack's stream sequence is the receipt's locator (`s<seq>`),
 * which the ad's event token carries, signed: any gateway reads the message by sequence. A receipt replayed from
 * a spool goes onto its decision's own subject instead, only if empty (`putOnOwnSubject`): its ad's token names
 * no sequence. Lookups: the in-memory LRU (events usually come back to the gateway that decided), else the
 * locator's message, else the decision's own subject, else a batch subject of before 2026-12-07.
 */
export class ReceiptStore {
  /**
   * Decision id -> its receipt's wire encoding (and listener, for erasure). Encoded, not as objects: 100,000
   * receipt objects held ~80 MB of a gateway's heap, their encodings a fraction of that.
   */
  private readonly cache = new Map<string, { userId: string; bytes: Uint8Array }>();
  /** Decision id -> locator (`s<seq>`) of the message its receipt was stored in (for event tokens). */
  private readonly locators = new Map<string, string>();
  private readonly cacheSize: number;
  private readonly locatorIndexSize: number;
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
    this.locatorIndexSize = options.locatorIndexSize ?? 16_384;
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
        this.locators.delete(id);
        dropped++;
      }
    return dropped;
  }

  /** Where a receipt put here was stored (`s<seq>`; undefined: not stored yet, or forgotten), for event tokens. */
  locatorOf(decisionId: string): string | undefined {
    return this.locators.get(decisionId);
  }

  /**
   * A spooled receipt, stored on its decision's own subject unless that holds it already (a replay repeated after a
   * crash): its ad's token names no sequence, so this is where other gateways look.
   */
  async putOnOwnSubject(receipt: DecisionReceipt): Promise<void> {
    const bytes = encodeDecisionReceipt(receipt);
    try {
      // No Nats-Msg-Id: the decision id may be the id of its copy in the log (a publish whose ack was lost), and
      // JetStream would then drop this one as a duplicate; the empty-subject check alone keeps it single here.
      await this.js.publish(subjects.receipt(receipt.decisionId), bytes, {
        timeout: this.publishTimeoutMs,
        expect: ONLY_IF_EMPTY,
      });
    } catch (err) {
      if (!isSubjectTaken(err)) throw err;
    }
    this.remember(receipt, bytes);
  }

  /**
   * The receipt of a decision: from memory, from the message `locator` (from the ad's event token) names, from its
   * own subject, or from a batch subject of before 2026-12-07 (`locator` a batch id).
   */
  async get(decisionId: string, locator?: string): Promise<DecisionReceipt | undefined> {
    const cached = this.cache.get(decisionId);
    if (cached) {
      this.cache.delete(decisionId);
      this.cache.set(decisionId, cached);
      return fromBinary(DecisionReceiptSchema, cached.bytes);
    }
    const seq = locator === undefined ? undefined : sequenceOf(locator);
    if (seq !== undefined) {
      // The message may be gone (erased, or older than the stream keeps): then the decision's own subject.
      const found = fromMessage(await this.jsm.direct.getMessage(streams.receipts, { seq }), decisionId);
      if (found) return this.remembered(found);
    }
    const own = await this.jsm.direct.getMessage(streams.receipts, { last_by_subj: subjects.receipt(decisionId) });
    if (own) return this.remembered(fromBinary(DecisionReceiptSchema, own.data), own.data);
    if (locator === undefined || !isReceiptBatchId(locator)) return undefined;
    const batch = await this.jsm.direct.getMessage(streams.receipts, { last_by_subj: subjects.receiptBatch(locator) });
    const found = fromMessage(batch, decisionId);
    return found && this.remembered(found);
  }

  private remembered(receipt: DecisionReceipt, bytes: Uint8Array = encodeDecisionReceipt(receipt)): DecisionReceipt {
    this.remember(receipt, bytes);
    return receipt;
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
    // Each receipt is encoded once: for the cache, and framed into the batch (a ReceiptBatch's encoding is its
    // receipts' encodings, each behind field 1's tag and its length).
    const encoded = receipts.map(encodeDecisionReceipt);
    const ack = await this.js.publish(
      alone ? subjects.receiptLogOne : subjects.receiptLogBatch,
      alone ? encoded[0]! : frameReceiptBatch(encoded),
      { msgID: alone ? first!.decisionId : receiptBatchId(receipts), timeout: this.publishTimeoutMs },
    );
    // A duplicate's ack names the sequence of the copy stored first.
    const locator = `s${ack.seq}`;
    receipts.forEach((receipt, i) => {
      this.remember(receipt, encoded[i]!);
      this.locators.set(receipt.decisionId, locator);
    });
    trimToCap(this.locators, this.locatorIndexSize);
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

const SEQUENCE_LOCATOR = /^s([1-9][0-9]{0,15})$/;

/** The stream sequence a locator `s<seq>` names (undefined: not one). */
function sequenceOf(locator: string): number | undefined {
  const match = SEQUENCE_LOCATOR.exec(locator);
  const seq = match ? Number(match[1]) : Number.NaN;
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/** The receipt of `decisionId` in a receipts-stream message (a receipt or a batch), if it holds it. */
function fromMessage(
  message: { subject: string; data: Uint8Array } | null,
  decisionId: string,
): DecisionReceipt | undefined {
  if (!message) return undefined;
  if (!subjects.isReceiptBatchSubject(message.subject)) {
    const receipt = fromBinary(DecisionReceiptSchema, message.data);
    return receipt.decisionId === decisionId ? receipt : undefined;
  }
  return fromBinary(ReceiptBatchSchema, message.data).receipts.find((r) => r.decisionId === decisionId);
}
