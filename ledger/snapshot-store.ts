import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { type CampaignSpend, type LedgerSnapshot, LedgerSnapshotSchema } from "../gen/chorus/v1/ledger_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { reportBadMessage } from "../lib/nats/bad-messages.ts";
import { DEFAULT_MAX_PAYLOAD, encodePieces, pieceLimit } from "../lib/nats/message-pieces.ts";
import { readMessage } from "../lib/nats/read-message.ts";
import { buckets } from "../lib/subjects.ts";
import { SpendTotals } from "./spend-totals.ts";

/**
 * The ledger's snapshot in its KV bucket. The head, key `snapshot`, is the one value written with compare-and-set
 * (the fencing between ledger instances, ledger.ts). While every campaign fits one NATS message the head holds
 * them; past that (thousands of campaigns x months of days) the campaigns are stored in content-addressed pieces,
 * `piece.<sha256>`, by a fixed group of the campaign id, and the head lists the pieces. A flush then writes only
 * the groups whose campaigns changed, then the head; pieces the new head no longer names are purged once it is
 * stored. Two writers never overwrite each other's pieces (the key is the content), and a reader that finds a
 * piece gone (purged meanwhile) reads the head again.
 */
export const SNAPSHOT_KEY = "snapshot";
/** Groups campaigns are spread over once in pieces: each group is one piece (or more, if it outgrows one). */
const GROUPS = 64;
const PIECE_PREFIX = "piece.";

export interface StoredTotals {
  totals: SpendTotals;
  /** Revision of the head (0: none stored). */
  revision: number;
  /** The pieces of each campaign group (empty while the snapshot fits the head). */
  groups: Map<number, string[]>;
}

/** FNV-1a of the campaign id, modulo GROUPS: stable across processes and releases. */
function groupOf(campaignId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < campaignId.length; i++) {
    h ^= campaignId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % GROUPS;
}

const pieceKey = (bytes: Uint8Array) => `${PIECE_PREFIX}${createHash("sha256").update(bytes).digest("base64url")}`;

/**
 * Reads the stored totals. A head or piece that cannot be read is counted and the totals rebuild from the events
 * stream (which keeps every event: slower, but exact).
 */
export async function readStoredTotals(kv: KV, log: Logger): Promise<StoredTotals> {
  for (let attempt = 0; ; attempt++) {
    const head = await kv.get(SNAPSHOT_KEY);
    const revision = head?.revision ?? 0;
    if (head?.operation !== "PUT") return { totals: new SpendTotals(), revision, groups: new Map() };
    const read = readEntry(head, log);
    if (!read) return { totals: new SpendTotals(), revision, groups: new Map() };
    if (read.pieceKeys.length === 0) return { totals: fromSnapshot(read, log, head), revision, groups: new Map() };
    const campaigns: CampaignSpend[] = [];
    const groups = new Map<number, string[]>();
    let missing = false;
    for (const key of read.pieceKeys) {
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT" || pieceKey(entry.value) !== key) {
        missing = true;
        break;
      }
      const piece = readEntry(entry, log);
      if (!piece) return { totals: new SpendTotals(), revision, groups: new Map() };
      campaigns.push(...piece.campaigns);
      const group = groupOf(piece.campaigns[0]?.campaignId ?? "");
      groups.set(group, [...(groups.get(group) ?? []), key]);
    }
    if (!missing) return { totals: fromSnapshot({ ...read, campaigns }, log, head), revision, groups };
    // A writer purged it after storing a newer head: read that one.
    if (attempt >= 5) {
      reportBadMessage(log, {
        consumer: "ledger:snapshot",
        subject: head.key,
        seq: head.revision,
        reason: "undecodable",
        detail: "a piece of the snapshot is missing",
      });
      return { totals: new SpendTotals(), revision, groups: new Map() };
    }
  }
}

function readEntry(entry: KvEntry, log: Logger): LedgerSnapshot | undefined {
  const read = readMessage(LedgerSnapshotSchema, entry.value);
  if (read.ok) return read.message;
  reportBadMessage(log, {
    consumer: "ledger:snapshot",
    subject: entry.key,
    seq: entry.revision,
    reason: read.reason,
    detail: read.detail,
  });
  log.warn("ledger snapshot unreadable: rebuilding the totals from the events stream");
  return undefined;
}

function fromSnapshot(snapshot: LedgerSnapshot, log: Logger, head: KvEntry): SpendTotals {
  try {
    return SpendTotals.fromSnapshot(snapshot);
  } catch (err) {
    reportBadMessage(log, {
      consumer: "ledger:snapshot",
      subject: head.key,
      seq: head.revision,
      reason: "out_of_range",
      detail: String(err),
    });
    return new SpendTotals();
  }
}

/** Writes the totals as the head (and its pieces); see the module comment. */
export class SnapshotWriter {
  private readonly limit: number;
  private groups: Map<number, string[]>;

  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    stored: StoredTotals,
    maxPayload = DEFAULT_MAX_PAYLOAD,
  ) {
    this.limit = pieceLimit(maxPayload);
    this.groups = stored.groups;
  }

  /** Pieces the stored head names (0 while it holds every campaign itself). */
  get pieces(): number {
    let n = 0;
    for (const keys of this.groups.values()) n += keys.length;
    return n;
  }

  /**
   * The head's bytes for `totals`, after storing the pieces of changed groups; `commit` after the head is stored.
   * Nothing changes here until then, so a failed attempt is simply made again.
   */
  async prepare(totals: SpendTotals): Promise<{ head: Uint8Array; commit: () => Promise<void> }> {
    if (this.groups.size === 0) {
      const whole = toBinary(LedgerSnapshotSchema, totals.toSnapshot());
      if (whole.length <= this.limit) return { head: whole, commit: async () => totals.dirty.clear() };
    }
    const changed = new Set<number>();
    const all = this.groups.size === 0;
    for (const id of all ? totals.campaignIds() : totals.dirty) changed.add(groupOf(id));
    const members = new Map<number, string[]>();
    if (changed.size > 0)
      for (const id of totals.campaignIds()) {
        const g = groupOf(id);
        if (changed.has(g)) members.set(g, [...(members.get(g) ?? []), id]);
      }
    const next = new Map(this.groups);
    for (const g of changed) {
      const campaigns = (members.get(g) ?? []).flatMap((id) => totals.campaignSpend(id) ?? []);
      const keys: string[] = [];
      for (const bytes of encodePieces(LedgerSnapshotSchema, create(LedgerSnapshotSchema, { campaigns }), this.limit)) {
        const key = pieceKey(bytes);
        await this.kv.put(key, bytes);
        keys.push(key);
      }
      next.set(g, keys);
    }
    const head = toBinary(
      LedgerSnapshotSchema,
      create(LedgerSnapshotSchema, {
        lastSequence: totals.lastSequence,
        eventsApplied: totals.eventsApplied,
        pieceKeys: [...next.keys()].sort((a, b) => a - b).flatMap((g) => next.get(g)!),
      }),
    );
    return {
      head,
      commit: async () => {
        const kept = new Set([...next.values()].flat());
        const gone = [...this.groups.values()].flat().filter((k) => !kept.has(k));
        this.groups = next;
        totals.dirty.clear();
        // Purged from the stream itself: a KV delete would leave a marker per piece for ever.
        for (const key of gone)
          await this.jsm.streams
            .purge(`KV_${buckets.ledger}`, { filter: `$KV.${buckets.ledger}.${key}` })
            .catch(() => undefined);
      },
    };
  }
}
