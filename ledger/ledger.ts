import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DeliverPolicy, type JetStreamManager, type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import {
  type LedgerQuery,
  LedgerQueryResultSchema,
  LedgerQuerySchema,
  type LedgerSnapshot,
  LedgerSnapshotSchema,
} from "../gen/chorus/v1/ledger_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { type BadMessageReason, reportBadMessage } from "../lib/nats/bad-messages.ts";
import { RESUMING_CONSUME } from "../lib/nats/consume-options.ts";
import { pieceLimit } from "../lib/nats/message-pieces.ts";
import { streams, subjects } from "../lib/subjects.ts";
import { readLedgerEntry } from "./event-rules.ts";
import {
  ensureLedgerStreams,
  ensureQuarantineStream,
  type LedgerStreamOptions,
  openLedgerBucket,
} from "./ledger-streams.ts";
import { readStoredTotals, SNAPSHOT_KEY, SnapshotWriter } from "./snapshot-store.ts";
import type { SpendTotals } from "./spend-totals.ts";

export interface LedgerOptions {
  nc: NatsConnection;
  log: Logger;
  streams?: LedgerStreamOptions;
  /** The snapshot is written after at most this many applied messages (and whenever the stream is drained). */
  flushEvery?: number;
  /** Leader election: false once this instance no longer leads; it then writes nothing more. */
  fence?: () => boolean;
}

/** Headers of a quarantined event: where it came from and why it was not applied. */
export const QUARANTINE_HEADERS = {
  subject: "Chorus-Source-Subject",
  sequence: "Chorus-Source-Sequence",
  reason: "Chorus-Quarantine-Reason",
} as const;

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
    private writer: SnapshotWriter,
    private readonly options: LedgerOptions,
  ) {}

  private stopped = false;
  private querySub: Subscription | undefined;
  private done: Promise<void> = Promise.resolve();
  private stopConsumer: (() => void) | undefined;

  static async start(options: LedgerOptions): Promise<Ledger> {
    // No account-info round trip (checkAPI): it only adds a request that can time out while a server restarts.
    const jsm = await jetstreamManager(options.nc, { checkAPI: false });
    await ensureLedgerStreams(jsm, options.streams);
    await ensureQuarantineStream(jsm);
    const kv = await openLedgerBucket(jsm);
    const stored = await readStoredTotals(kv, options.log);
    const writer = new SnapshotWriter(kv, jsm, stored, options.nc.info?.max_payload);
    const ledger = new Ledger(stored.totals, jsm, kv, stored.revision, writer, options);
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
        let reply = toBinary(
          LedgerQueryResultSchema,
          create(LedgerQueryResultSchema, { snapshot: this.query(query.campaignId) }),
        );
        // Every campaign with every day may not fit one message: the totals do (per-day figures per campaign).
        if (reply.length > pieceLimit(this.options.nc.info?.max_payload))
          reply = toBinary(
            LedgerQueryResultSchema,
            create(LedgerQueryResultSchema, {
              snapshot: this.totals.toSnapshot(query.campaignId, false),
              daysOmitted: true,
            }),
          );
        msg.respond(reply);
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
        const messages = await consumer.consume({ ...RESUMING_CONSUME, max_messages: Math.min(flushEvery, 1_000) });
        this.stopConsumer = () => void messages.stop();
        let applied = 0;
        for await (const m of messages) {
          const read = readLedgerEntry(m.data);
          if (read.ok) {
            if (this.current.apply(BigInt(m.seq), read.message)) applied++;
          } else if (BigInt(m.seq) > this.current.lastSequence) {
            // Kept aside (stored before the sequence moves past it), counted, never retried.
            await this.quarantine(m, read.reason, read.detail);
            this.current.skip(BigInt(m.seq));
            applied++;
          }
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

  /** Events skipped by this instance (undecodable or out of range), each stored in the quarantine stream. */
  quarantined = 0;

  private async quarantine(m: JsMsg, reason: BadMessageReason, detail: string): Promise<void> {
    const h = headers();
    h.set(QUARANTINE_HEADERS.subject, m.subject);
    h.set(QUARANTINE_HEADERS.sequence, String(m.seq));
    h.set(QUARANTINE_HEADERS.reason, `${reason}: ${detail}`.slice(0, 1_000));
    await this.jsm.jetstream().publish(subjects.quarantinedEvent(m.seq), m.data, { headers: h });
    this.quarantined++;
    reportBadMessage(this.options.log, { consumer: "ledger", subject: m.subject, seq: m.seq, reason, detail });
  }

  /** Back to the stored snapshot: what it holds is persisted; the consumer resumes after its sequence. */
  private async reload(): Promise<void> {
    const stored = await readStoredTotals(this.kv, this.options.log);
    if (stored.revision === 0) return;
    this.current = stored.totals;
    this.revision = stored.revision;
    this.writer = new SnapshotWriter(this.kv, this.jsm, stored, this.options.nc.info?.max_payload);
    this.persistedSequence = this.current.lastSequence;
    this.options.log.warn({ lastSequence: this.current.lastSequence.toString() }, "ledger reloaded its snapshot");
  }

  private async flush(): Promise<void> {
    if (this.options.fence && !this.options.fence()) {
      this.stopped = true;
      this.stopConsumer?.();
      return;
    }
    for (;;) {
      let snapshot: Uint8Array;
      let commit: () => Promise<void>;
      try {
        ({ head: snapshot, commit } = await this.writer.prepare(this.totals));
      } catch (err) {
        this.options.log.warn({ err }, "ledger snapshot pieces not stored yet; retrying");
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      try {
        this.revision =
          this.revision === 0
            ? await this.kv.create(SNAPSHOT_KEY, snapshot)
            : await this.kv.update(SNAPSHOT_KEY, snapshot, this.revision);
        await commit();
        break;
      } catch (err) {
        if (/wrong last sequence/i.test((err as Error).message)) {
          // Either an earlier attempt of this very write was stored but its ack was lost (then the stored bytes
          // are ours), or another writer got in between (a killed predecessor's last write, still in flight when
          // this instance read the snapshot): then the stored snapshot wins and this instance reloads from it.
          const stored = await this.kv.get(SNAPSHOT_KEY);
          if (stored && Buffer.from(stored.value).equals(snapshot)) {
            this.revision = stored.revision;
            await commit();
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
