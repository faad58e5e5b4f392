import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DeliverPolicy, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
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
  /** The snapshot is written after at most this many applied messages (and whenever the stream is drained). */
  flushEvery?: number;
  /** Leader election: false once this instance no longer leads; it then writes nothing more. */
  fence?: () => boolean;
}

const SNAPSHOT_KEY = "snapshot";

/**
 * The spend ledger: folds the events stream into SpendTotals.
 *
 * Exactly once, across kill -9 and server restarts: the durable state is the KV snapshot (totals + the last
 * applied stream sequence), written with the revision read before, so no other writer can interleave. Messages
 * are read in stream order from the snapshot's sequence + 1 with an ordered consumer; SpendTotals skips anything
 * at or below the sequence it holds. Order matters and is why this is not an acked durable consumer: a durable
 * consumer redelivers an unacked message after `ack_wait`, after newer ones (e.g. messages in flight when
 * nats-server restarted), and a sequence watermark would then skip it — the fault test found exactly that. A crash
 * loses only what was applied since the last snapshot, which is read again.
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

  /**
   * Consumes until stopped, in stream order from the totals' sequence. The ordered consumer recreates itself
   * after a gap or a server restart; if the loop fails anyway it starts again from the totals' sequence, and after
   * a snapshot conflict from the stored snapshot.
   */
  private async consumeLoop(): Promise<void> {
    const flushEvery = this.options.flushEvery ?? 1_000;
    while (!this.stopped) {
      try {
        const consumer = await this.jsm.jetstream().consumers.get(streams.events, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Number(this.current.lastSequence) + 1,
        });
        const messages = await consumer.consume({ max_messages: Math.min(flushEvery, 1_000) });
        this.stopConsumer = () => void messages.stop();
        let applied = 0;
        for await (const m of messages) {
          if (this.current.apply(BigInt(m.seq), fromBinary(LedgerEntrySchema, m.data))) applied++;
          if (applied >= flushEvery || (applied > 0 && m.info.pending === 0)) {
            await this.flush();
            applied = 0;
          }
          if (this.stopped) return;
        }
      } catch (err) {
        if (this.stopped) return;
        this.options.log.warn({ err }, "ledger consumer interrupted; resuming");
        this.stopConsumer?.();
        await new Promise((r) => setTimeout(r, 250));
        if (err instanceof SnapshotConflictError) await this.reload().catch(() => undefined);
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

  private async flush(): Promise<void> {
    if (this.options.fence && !this.options.fence()) {
      this.stopped = true;
      this.stopConsumer?.();
      return;
    }
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
