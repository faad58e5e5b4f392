/**
 * The decision log: one DecisionRecord per kept decision in the JetStream stream CHORUS_DECISIONS.
 *
 * - Index: each decision has its own subject (`subjects.decisionRecord(id)`) and the stream keeps one message per
 *   subject, so reading a decision is one direct get by subject (`last_by_subj`), whatever the stream's size.
 * - Bounds: the stream drops its oldest records past DECISION_LOG_MAX_AGE_S or DECISION_LOG_MAX_BYTES.
 * - Sampling: a decision is kept when hash(decision id) < DECISION_LOG_SAMPLE_RATE (every gateway agrees on the
 *   same ids). With DECISION_LOG_KEEP_NOTABLE (default on), decisions asked to `explain` and decisions with a
 *   degraded agent are kept beyond the sample, up to DECISION_LOG_NOTABLE_PER_S per gateway: those are the ones
 *   people come back to investigate, but when an agent is down every decision is degraded, and a record costs
 *   more CPU than the decision it records — logging all of them would turn an outage into an overload.
 * - Off the response path: `append` only samples and snapshots the kernel request; building, encoding and
 *   publishing happen later. At most DECISION_LOG_MAX_PENDING records wait; beyond that a record is dropped and
 *   counted (`chorus_decision_log_records_total{result="dropped_buffer_full"}`), never blocking a decision.
 * - Privacy: the user id and the session id (already bus pseudonyms, lib/privacy) are replaced again by HMAC-SHA256
 *   pseudonyms under the log's own key (`pseudonymKey`: the gateway derives it from its pseudonym key,
 *   Pseudonyms.decisionLogKey), so a log record cannot be joined with bus data (receipts, events, agent state) by
 *   id without that key; `chorus users forget`, which holds it, still finds a listener's records.
 *
 * This file is the writer (the stream, the inventories bucket, DecisionLog). Its settings: decision-log-config.ts;
 * what is kept and the record built: decision-record.ts; reading a decision back: decision-log-reader.ts.
 */
import { randomBytes } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import {
  DiscardPolicy,
  type JetStreamClient,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import type { ObjectStore } from "@nats-io/obj";
import { DecisionKeepReason, DecisionRecordSchema } from "../gen/chorus/v1/decision_log_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { openReplicatedObjectStore } from "../lib/nats/jetstream-replicas.ts";
import { buckets, streams, subjects } from "../lib/subjects.ts";
import type { DecisionLogConfig } from "./decision-log-config.ts";
import { buildDecisionRecord, type DecisionEntry, keepReason } from "./decision-record.ts";
import { inventoryPart, type KernelCall, snapshotKernelRequest } from "./kernel-record.ts";
import type { ChorusMetrics } from "./metrics.ts";

export { type DecisionLogConfig, decisionLogConfigSchema, loadDecisionLogConfig } from "./decision-log-config.ts";
export { DecisionNotFoundError, readDecisionRecord } from "./decision-log-reader.ts";
export {
  type AgentEntry,
  buildDecisionRecord,
  type DecisionEntry,
  keepReason,
  pseudonymize,
} from "./decision-record.ts";

import { retryTransient } from "../lib/nats/transient-retry.ts";

/** Creates the stream, or brings an existing one's limits to the configured ones. */
export async function ensureDecisionStream(nc: NatsConnection, config: DecisionLogConfig): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const limits = {
    max_age: nanos(config.maxAgeSeconds * 1000),
    max_bytes: config.maxBytes,
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.Old,
    allow_direct: true,
    num_replicas: config.replicas,
  };
  const existing = await jsm.streams.info(streams.decisions).catch(() => undefined);
  if (existing) {
    // Changed only when the configured limits differ: only the operator may change a stream (`chorus bus setup`).
    const differs = Object.entries(limits).some(
      ([k, v]) => (existing.config as unknown as Record<string, unknown>)[k] !== v,
    );
    if (differs)
      await operatorChange(streams.decisions, () =>
        jsm.streams.update(streams.decisions, { ...existing.config, ...limits }),
      );
    return;
  }
  await jsm.streams.add({
    name: streams.decisions,
    subjects: [subjects.decisionRecordsAll],
    description: "Chorus decision log: one DecisionRecord per kept decision (telemetry/decision-log.ts)",
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: nanos(120_000),
    ...limits,
  });
}

/** The stream and the inventories object store (the operator's setup, `chorus bus setup`, and every gateway). */
export async function ensureDecisionStore(
  nc: NatsConnection,
  js: JetStreamClient,
  config: DecisionLogConfig,
): Promise<ObjectStore> {
  // Retried while JetStream is not ready (a fresh cluster answers its first requests with timeouts).
  await retryTransient("decision stream", () => ensureDecisionStream(nc, config));
  return ensureInventoryBucket(nc, js, config);
}

/** Creates the inventories object store, or brings an existing one's TTL to the stream's max age. */
async function ensureInventoryBucket(
  nc: NatsConnection,
  js: JetStreamClient,
  config: DecisionLogConfig,
): Promise<ObjectStore> {
  const ttl = nanos(config.maxAgeSeconds * 1000);
  const objects = await openReplicatedObjectStore(
    js,
    buckets.decisionInventories,
    { description: "Inventory part of logged decisions' kernel inputs (telemetry/decision-log.ts)", ttl },
    config.replicas,
  );
  if ((await objects.status()).ttl !== ttl) {
    // An object store is the stream OBJ_<bucket> (NATS ADR-20); its TTL is that stream's max_age.
    const jsm = await jetstreamManager(nc);
    const stream = `OBJ_${buckets.decisionInventories}`;
    await operatorChange(stream, async () =>
      jsm.streams.update(stream, { ...(await jsm.streams.info(stream)).config, max_age: ttl }),
    );
  }
  return objects;
}

/** A limit change this identity may not make (only the operator changes streams): say what to run. */
async function operatorChange(stream: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!/permission/i.test((err as Error).message)) throw err;
    throw new Error(
      `${stream} does not have the limits DECISION_LOG_* configure and this NATS identity may not change them: ` +
        "run `chorus bus setup` as the operator with the same DECISION_LOG_* settings",
    );
  }
}

export class DecisionLog {
  #pending = 0;
  /** Token bucket of notable records beyond the sample (refilled at notablePerSecond, holds one second's worth). */
  #notableTokens: number;
  #notableRefilledAt = performance.now();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #salt: string;

  /** Inventory objects this process has stored, by name: when, and the put (shared by concurrent records). */
  readonly #inventories = new Map<string, { at: number; put: Promise<unknown> }>();

  private constructor(
    private readonly js: JetStreamClient,
    private readonly inventories: ObjectStore,
    private readonly config: DecisionLogConfig,
    private readonly metrics: ChorusMetrics,
    private readonly logger: Logger,
    private readonly gateway: string,
    pseudonymKey: string | undefined,
  ) {
    this.#notableTokens = config.notablePerSecond;
    this.#salt = pseudonymKey || randomBytes(32).toString("hex");
    if (!pseudonymKey) {
      logger.warn("the decision log has no pseudonym key: a per-process one is used (no link across restarts)");
    }
  }

  /** Ensures the stream and the inventories bucket, then returns a log that publishes through `js`. */
  static async open(
    nc: NatsConnection,
    js: JetStreamClient,
    options: {
      config: DecisionLogConfig;
      metrics: ChorusMetrics;
      logger: Logger;
      gateway: string;
      /** Key of the log's own pseudonyms (Pseudonyms.decisionLogKey); default: a per-process random one. */
      pseudonymKey?: string;
    },
  ): Promise<DecisionLog> {
    const inventories = await ensureDecisionStore(nc, js, options.config);
    return new DecisionLog(
      js,
      inventories,
      options.config,
      options.metrics,
      options.logger,
      options.gateway,
      options.pseudonymKey,
    );
  }

  /** Records waiting to be published. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Hands a decision to the log without waiting. Returns why it is kept, or undefined when it was sampled out or
   * dropped. The entry's protobuf messages and inventory must stay unchanged afterwards (the engine builds fresh
   * ones per decision); the kernel request's arrays are copied here, so their buffers may be reused.
   */
  append(entry: DecisionEntry): DecisionKeepReason | undefined {
    const reason = keepReason(entry, this.config);
    if (reason === undefined) {
      this.metrics.decisionLogRecords.inc({ result: "sampled_out" });
      return undefined;
    }
    if (reason !== DecisionKeepReason.SAMPLED && !this.#takeNotableToken()) {
      this.metrics.decisionLogRecords.inc({ result: "dropped_notable_rate" });
      return undefined;
    }
    if (this.#pending >= this.config.maxPending) {
      this.metrics.decisionLogRecords.inc({ result: "dropped_buffer_full" });
      return undefined;
    }
    this.#pending++;
    const kept: DecisionEntry = entry.kernel
      ? { ...entry, kernel: { ...entry.kernel, request: snapshotKernelRequest(entry.kernel.request) } }
      : entry;
    const done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#publish(kept, reason))
      .finally(() => {
        this.#pending--;
        this.#inFlight.delete(done);
      });
    this.#inFlight.add(done);
    return reason;
  }

  #takeNotableToken(): boolean {
    const now = performance.now();
    const rate = this.config.notablePerSecond;
    this.#notableTokens = Math.min(rate, this.#notableTokens + ((now - this.#notableRefilledAt) / 1000) * rate);
    this.#notableRefilledAt = now;
    if (this.#notableTokens < 1) return false;
    this.#notableTokens -= 1;
    return true;
  }

  /** Resolves once every record appended so far is published or has failed. */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #publish(entry: DecisionEntry, reason: DecisionKeepReason): Promise<void> {
    try {
      // The inventory first: a record is never readable before the inventory it references.
      if (entry.kernel) await this.#storeInventory(entry.kernel);
      const record = buildDecisionRecord(entry, { salt: this.#salt, keepReason: reason, gateway: this.gateway });
      await this.js.publish(subjects.decisionRecord(entry.decisionId), toBinary(DecisionRecordSchema, record), {
        msgID: entry.decisionId,
      });
      this.metrics.decisionLogRecords.inc({ result: "published" });
    } catch (err) {
      this.metrics.decisionLogRecords.inc({ result: "failed" });
      this.logger.warn({ err, run_id: entry.decisionId }, "decision log: record not published");
    }
  }

  #storeInventory(call: KernelCall): Promise<unknown> {
    const { name, bytes } = inventoryPart(call);
    const known = this.#inventories.get(name);
    if (known && Date.now() - known.at < inventoryRefreshMs(this.config)) return known.put;
    const put = this.inventories.putBlob({ name }, bytes);
    this.#inventories.set(name, { at: Date.now(), put });
    // A failed put is retried by the next record that needs it.
    put.catch(() => this.#inventories.delete(name));
    return put;
  }
}

/**
 * Objects expire with the decision log's max age; an inventory in use for longer is stored again once half of that
 * age has passed, so that every record's inventory outlives the record.
 */
function inventoryRefreshMs(config: DecisionLogConfig): number {
  return (config.maxAgeSeconds * 1000) / 2;
}
