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
import { DEFAULT_EVENT_LIMITS, duplicateWindowFor } from "./event-rules.ts";

export interface LedgerStreamOptions {
  /**
   * The events stream's Nats-Msg-Id de-duplication window (JetStream `duplicate_window`): at least
   * `duplicateWindowFor` the gateways' event limits, which is the default. The receipts stream's is 2 minutes.
   */
  duplicateWindowMs?: number;
  /** How long decision receipts are kept; events for older decisions are rejected as unknown. */
  receiptRetentionMs?: number;
  /** JetStream replicas of a stream created here (default CHORUS_REPLICAS). */
  replicas?: number;
}

const DAY_MS = 86_400_000;

const RECEIPTS_DUPLICATE_WINDOW_MS = 120_000;

/**
 * Creates the events, receipts and lease streams where missing (the operator's setup, launch/bus-setup.ts; a process
 * may not create streams and only finds them), then checks them (checkLedgerStreams: a stream that lacks what
 * exactly-once rests on stops the process with what to fix). An existing stream is left as it is.
 *
 * Events are kept for ever (no max_age: the ledger must be rebuildable from them) on a few subjects per campaign;
 * a fact is refused a second time by its Nats-Msg-Id inside a duplicate window as long as the time it can be
 * reported at all (event-sink.ts), conversions by their slot subjects. Receipts are a log on two subjects, kept
 * for days (receipt-store.ts); a retried publish is refused inside the Nats-Msg-Id window and readers drop a receipt
 * they have seen. Neither stream has a per-subject limit: nats-server keeps every subject of a stream in memory, so
 * one subject per fact grew without bound. `discard: new`: should an operator set a size limit, new facts are
 * refused rather than old ones deleted. `allow_direct` serves the report path's lookups.
 */
export async function ensureLedgerStreams(jsm: JetStreamManager, options: LedgerStreamOptions = {}): Promise<void> {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    allow_direct: true,
  };
  const addIfMissing = (name: string, config: Partial<StreamConfig>) =>
    ensureStream(jsm, { ...config, name }, options.replicas);
  await addIfMissing(streams.events, {
    ...common,
    subjects: [subjects.adEventsAll],
    duplicate_window: nanos(options.duplicateWindowMs ?? duplicateWindowFor(DEFAULT_EVENT_LIMITS)),
    republish: { src: subjects.adEventsAll, dest: subjects.acceptedEventsAll },
  });
  await addIfMissing(streams.receipts, {
    ...common,
    subjects: [subjects.receiptsAll],
    duplicate_window: nanos(RECEIPTS_DUPLICATE_WINDOW_MS),
    max_age: nanos(options.receiptRetentionMs ?? 7 * DAY_MS),
  });
  // Many grants per campaign; an hour is far beyond any lease's life and leaves time to audit a failover.
  await addIfMissing(streams.leases, {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    subjects: [subjects.leaseLogAll],
    max_age: nanos(3_600_000),
    duplicate_window: nanos(60_000),
  });
  await checkLedgerStreams(jsm, { minDuplicateWindowMs: options.duplicateWindowMs });
}

/** Quarantined events are kept this long for inspection (`nats stream view CHORUS_QUARANTINE`). */
const QUARANTINE_MAX_AGE_MS = 30 * DAY_MS;

/**
 * The quarantine stream: events the ledger could not apply (undecodable or out of range), each under
 * `chorus.quarantine.events.<events stream sequence>` with the original bytes and headers naming the source
 * subject, sequence and reason. One message per subject: quarantining a sequence again replaces it.
 */
export async function ensureQuarantineStream(jsm: JetStreamManager, replicas?: number): Promise<void> {
  await ensureStream(
    jsm,
    {
      name: streams.quarantine,
      subjects: [subjects.quarantineAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_msgs_per_subject: 1,
      max_age: nanos(QUARANTINE_MAX_AGE_MS),
      max_bytes: 1024 * 1024 * 1024,
      discard: DiscardPolicy.Old,
    },
    replicas,
  );
}

/** An existing stream lacks what exactly-once rests on: Chorus refuses to start rather than count twice. */
export class StreamConfigError extends Error {
  override readonly name = "StreamConfigError";
  constructor(
    readonly stream: string,
    readonly problems: string[],
  ) {
    super(
      `stream ${stream} cannot be used as it is configured:\n  - ${problems.join("\n  - ")}\n` +
        `Fix it (nats stream edit ${stream} ...) or, on a fresh deployment, delete it and let Chorus create it.`,
    );
  }
}

/**
 * Checks the events and receipts streams (not trusted because they exist). Both: limits retention (work-queue or
 * interest retention would delete facts when read), discard new, no per-subject limit (facts share subjects).
 * Events: a duplicate window of at least `minDuplicateWindowMs` (default: what the default event limits need), no
 * age limit (the ledger is rebuilt from them) and the republish the agents listen to. Receipts: a duplicate window
 * of at least a second. Waits up to `waitMs` for streams another process creates (the gateway does not create
 * them).
 */
export async function checkLedgerStreams(
  jsm: JetStreamManager,
  options: { waitMs?: number; minDuplicateWindowMs?: number } = {},
): Promise<void> {
  const eventsWindow = options.minDuplicateWindowMs ?? duplicateWindowFor(DEFAULT_EVENT_LIMITS);
  const ms = (ns: number | undefined) => Math.round((ns ?? 0) / 1e6);
  for (const name of [streams.events, streams.receipts]) {
    const config = await streamConfig(jsm, name, options.waitMs ?? 0);
    const problems: string[] = [];
    if (config.discard !== DiscardPolicy.New) problems.push(`discard is ${config.discard}, must be new`);
    if (config.retention !== RetentionPolicy.Limits)
      problems.push(`retention is ${config.retention}, must be limits (facts must not be deleted when read)`);
    // Ids repeated within the window are refused before anything else is consulted; a stream without one (0)
    // answers a retried publish with an error instead of its first ack.
    const minWindow = name === streams.events ? eventsWindow : 1_000;
    if (!config.duplicate_window || config.duplicate_window < nanos(minWindow))
      problems.push(
        `duplicate_window is ${ms(config.duplicate_window)} ms, must be at least ${minWindow} ms` +
          (name === streams.events ? " (the longest time after a decision an event is accepted, plus a minute)" : ""),
      );
    if ((config.max_msgs_per_subject ?? -1) > 0)
      problems.push(
        `max_msgs_per_subject is ${config.max_msgs_per_subject}, must be unlimited (-1): facts share subjects`,
      );
    if (name === streams.events) {
      if (config.max_age) problems.push("max_age is set: events are kept for ever (the ledger is rebuilt from them)");
      if (!config.subjects?.includes(subjects.adEventsAll))
        problems.push(`subjects ${JSON.stringify(config.subjects)} must include ${subjects.adEventsAll}`);
      if (config.republish?.dest !== subjects.acceptedEventsAll)
        problems.push(`republish must send ${subjects.adEventsAll} to ${subjects.acceptedEventsAll} (agents read it)`);
    }
    if (problems.length > 0) throw new StreamConfigError(name, problems);
  }
}

async function streamConfig(jsm: JetStreamManager, name: string, waitMs: number): Promise<StreamConfig> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      return (await jsm.streams.info(name)).config;
    } catch (err) {
      if (Date.now() >= until) throw new Error(`stream ${name} is not available: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The bucket holding the ledger snapshot. */
export function openLedgerBucket(jsm: JetStreamManager, replicas?: number): Promise<KV> {
  return openReplicatedBucket(jsm.jetstream(), buckets.ledger, { history: 1 }, replicas);
}
