import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { nanos } from "@nats-io/nats-core";
import { ensureStream, openReplicatedBucket } from "../lib/nats/jetstream-replicas.ts";
import { buckets, streams, subjects } from "../lib/subjects.ts";

export interface LedgerStreamOptions {
  /** Nats-Msg-Id de-duplication window (JetStream `duplicate_window`). Beyond it, per-subject uniqueness holds. */
  duplicateWindowMs?: number;
  /** How long decision receipts are kept; events for older decisions are rejected as unknown. */
  receiptRetentionMs?: number;
}

const DAY_MS = 86_400_000;

/**
 * Creates the events and receipts streams (idempotent: an existing stream is left as it is).
 *
 * Both keep at most one message per subject and refuse a second one (`discard_new_per_subject`): a subject names
 * one countable fact (an ad's impression, one decision's receipt), so a replay that arrives after the Nats-Msg-Id
 * window is still refused by the store itself, durably and atomically across gateways. Events are kept forever
 * (no max_age): the ledger must be rebuildable from them. `allow_direct` serves the lookups of the report path.
 */
export async function ensureLedgerStreams(jsm: JetStreamManager, options: LedgerStreamOptions = {}): Promise<void> {
  const duplicateWindow = nanos(options.duplicateWindowMs ?? 120_000);
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.New,
    discard_new_per_subject: true,
    allow_direct: true,
    duplicate_window: duplicateWindow,
  };
  await addIfMissing(jsm, streams.events, {
    ...common,
    subjects: [subjects.adEventsAll],
    republish: { src: subjects.adEventsAll, dest: subjects.acceptedEventsAll },
  });
  await addIfMissing(jsm, streams.receipts, {
    ...common,
    subjects: [subjects.receiptsAll],
    max_age: nanos(options.receiptRetentionMs ?? 7 * DAY_MS),
  });
  // Many grants per campaign; an hour is far beyond any lease's life and leaves time to audit a failover.
  await addIfMissing(jsm, streams.leases, {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    subjects: [subjects.leaseLogAll],
    max_age: nanos(3_600_000),
    duplicate_window: nanos(60_000),
  });
}

/** Creates the stream if missing; an existing one keeps its settings except the replica count (CHORUS_REPLICAS). */
function addIfMissing(jsm: JetStreamManager, name: string, config: Partial<StreamConfig>): Promise<void> {
  return ensureStream(jsm, { ...config, name });
}

/** The bucket holding the ledger snapshot. */
export function openLedgerBucket(jsm: JetStreamManager): Promise<KV> {
  return openReplicatedBucket(jsm.jetstream(), buckets.ledger, { history: 1 });
}
