import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AckPolicy, DeliverPolicy, type JetStreamManager, type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  LedgerEntrySchema,
  type LedgerQuery,
  LedgerQueryResultSchema,
  LedgerQuerySchema,
  type LedgerSnapshot,
  LedgerSnapshotSchema,
} from "../gen/chorus/v1/ledger_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { streams, subjects } from "../lib/subjects.ts";
import { ensureLedgerStreams, type LedgerStreamOptions, openLedgerBucket } from "./ledger-streams.ts";
import { SpendTotals } from "./spend-totals.ts";

export interface LedgerOptions {
  nc: NatsConnection;
  log: Logger;
  streams?: LedgerStreamOptions;
  /** Applied messages are persisted (snapshot, then ack) at least this often. */
  flushEvery?: number;
}

const SNAPSHOT_KEY = "snapshot";
const CONSUMER = "ledger";

/**
 * The spend ledger: folds the events stream into SpendTotals with a durable pull consumer.
 *
 * Exactly once, across kill -9 and server restarts: messages are applied in memory, then the snapshot (totals +
 * last applied sequence) is written to KV with the revision read before (a second ledger instance cannot
 * interleave), and only then acked. A crash before the snapshot loses nothing (the messages are redelivered); a
 * crash between snapshot and ack redelivers messages whose sequence is already in the snapshot, and SpendTotals
 * skips them. The snapshot's sequence is the source of truth: at start the consumer is recreated from it.
 */
export class Ledger {
  private constructor(
    private current: SpendTotals,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private revision: number,
    private readonly options: LedgerOptions,
  ) {}

  private stopped = false;
  private querySub: Subscription | undefined;
  private done: Promise<void> = Promise.resolve();
  private stopConsumer: (() => void) | undefined;

  static async start(options: LedgerOptions): Promise<Ledger> {
    const jsm = await jetstreamManager(options.nc);
    await ensureLedgerStreams(jsm, options.streams);
    const kv = await openLedgerBucket(jsm);
    const stored = await kv.get(SNAPSHOT_KEY);
    const totals =
      stored?.operation === "PUT"
        ? SpendTotals.fromSnapshot(fromBinary(LedgerSnapshotSchema, stored.value))
        : new SpendTotals();
    const ledger = new Ledger(totals, jsm, kv, stored?.revision ?? 0, options);
    await ledger.run();
    return ledger;
  }

  /** The totals as of the last applied event. */
  get totals(): SpendTotals {
    return this.current;
  }

  /** Totals of one campaign (or all), as of the last applied event. */
  query(campaignId?: string): LedgerSnapshot {
    return this.totals.toSnapshot(campaignId);
  }

  /** Resolves once every message now in the events stream is applied and persisted (retrying while NATS recovers). */
  async caughtUp(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let target: bigint | undefined;
    for (;;) {
      try {
        target ??= BigInt((await this.jsm.streams.info(streams.events)).state.last_seq);
        if (this.persistedSequence >= target) return;
      } catch (err) {
        if (Date.now() > until) throw err;
      }
      if (Date.now() > until) throw new Error(`ledger at ${this.persistedSequence}, stream at ${target}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopConsumer?.();
    await this.done;
    await this.querySub?.drain();
  }

  private persistedSequence = 0n;

  private async run(): Promise<void> {
    this.persistedSequence = this.totals.lastSequence;
    await this.recreateConsumer();
    this.done = this.consumeLoop();
    this.querySub = this.options.nc.subscribe(subjects.ledgerQuery, {
      queue: "ledger",
      callback: (_err, msg) => {
        let query: LedgerQuery;
        try {
          query = fromBinary(LedgerQuerySchema, msg.data);
        } catch {
          query = create(LedgerQuerySchema);
        }
        msg.respond(
          toBinary(
            LedgerQueryResultSchema,
            create(LedgerQueryResultSchema, { snapshot: this.query(query.campaignId) }),
          ),
        );
      },
    });
  }

  /** The durable consumer, starting right after what the totals hold (the snapshot's sequence at start). */
  private async recreateConsumer(): Promise<void> {
    await this.jsm.consumers.delete(streams.events, CONSUMER).catch(() => undefined);
    await this.jsm.consumers.add(streams.events, {
      durable_name: CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Number(this.totals.lastSequence) + 1,
      max_ack_pending: 10_000,
    });
  }

  /**
   * Consumes until stopped. If the consumer goes missing (a nats-server killed before it flushed the consumer's
   * state), it is recreated from the totals' sequence: messages applied but not yet persisted stay applied and
   * are persisted with the next flush, so nothing is lost or counted twice.
   */
  private async consumeLoop(): Promise<void> {
    const flushEvery = this.options.flushEvery ?? 1_000;
    const unacked: JsMsg[] = [];
    while (!this.stopped) {
      try {
        const consumer = await this.jsm.jetstream().consumers.get(streams.events, CONSUMER);
        const messages = await consumer.consume({
          max_messages: Math.min(flushEvery, 1_000),
          abort_on_missing_resource: true,
        });
        this.stopConsumer = () => void messages.stop();
        for await (const m of messages) {
          this.current.apply(BigInt(m.seq), fromBinary(LedgerEntrySchema, m.data));
          unacked.push(m);
          if (unacked.length >= flushEvery || m.info.pending === 0) await this.flush(unacked);
          if (this.stopped) return;
        }
      } catch (err) {
        if (this.stopped) return;
        this.options.log.warn({ err }, "ledger consumer interrupted; resuming");
        unacked.length = 0; // their acks would go to a consumer that no longer exists
        await new Promise((r) => setTimeout(r, 250));
        this.stopConsumer?.();
        if (err instanceof SnapshotConflictError) await this.reload().catch(() => undefined);
        await this.recreateConsumer().catch(() => undefined);
      }
    }
  }

  /** Back to the stored snapshot: what it holds is persisted; the consumer resumes after its sequence. */
  private async reload(): Promise<void> {
    const stored = await this.kv.get(SNAPSHOT_KEY);
    if (stored?.operation !== "PUT") return;
    this.current = SpendTotals.fromSnapshot(fromBinary(LedgerSnapshotSchema, stored.value));
    this.revision = stored.revision;
    this.persistedSequence = this.current.lastSequence;
    this.options.log.warn({ lastSequence: this.current.lastSequence.toString() }, "ledger reloaded its snapshot");
  }

  private async flush(unacked: JsMsg[]): Promise<void> {
    const snapshot = toBinary(LedgerSnapshotSchema, this.totals.toSnapshot());
    for (;;) {
      try {
        this.revision =
          this.revision === 0
            ? await this.kv.create(SNAPSHOT_KEY, snapshot)
            : await this.kv.update(SNAPSHOT_KEY, snapshot, this.revision);
        break;
      } catch (err) {
        if (/wrong last sequence/i.test((err as Error).message)) {
          // Either an earlier attempt of this very write was stored but its ack was lost (then the stored bytes
          // are ours), or another writer got in between (a killed predecessor's last write, still in flight when
          // this instance read the snapshot): then the stored snapshot wins and this instance reloads from it.
          const stored = await this.kv.get(SNAPSHOT_KEY);
          if (stored && Buffer.from(stored.value).equals(snapshot)) {
            this.revision = stored.revision;
            break;
          }
          throw new SnapshotConflictError();
        }
        this.options.log.warn({ err }, "ledger snapshot not stored yet; retrying");
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    this.persistedSequence = this.totals.lastSequence;
    for (const m of unacked) m.ack();
    unacked.length = 0;
  }
}

/** The stored snapshot changed under this ledger instance: reload from it rather than overwrite it. */
class SnapshotConflictError extends Error {
  override readonly name = "SnapshotConflictError";
  constructor() {
    super("the ledger snapshot was written by another writer");
  }
}

/** Asks a running ledger for its totals over NATS. */
export async function queryLedger(nc: NatsConnection, campaignId = "", timeoutMs = 2_000): Promise<LedgerSnapshot> {
  const reply = await nc.request(
    subjects.ledgerQuery,
    toBinary(LedgerQuerySchema, create(LedgerQuerySchema, { campaignId })),
    {
      timeout: timeoutMs,
    },
  );
  return fromBinary(LedgerQueryResultSchema, reply.data).snapshot ?? create(LedgerSnapshotSchema);
}
