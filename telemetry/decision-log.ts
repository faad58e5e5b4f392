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
 */
import { createHmac, randomBytes } from "node:crypto";
import { clone, create, fromBinary, mergeFromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  DiscardPolicy,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { AgentVote } from "../gen/chorus/v1/agent_pb.ts";
import {
  DecisionKeepReason,
  type DecisionRecord,
  DecisionRecordSchema,
  KernelInputsSchema,
} from "../gen/chorus/v1/decision_log_pb.ts";
import {
  type DecideRequest,
  DecideRequestSchema,
  type DecideResponse,
  type DegradedAgent,
  type ModuleVersion,
} from "../gen/chorus/v1/decision_pb.ts";
import { type ConfigOf, loadConfig, parsers } from "../lib/config/config.ts";
import type { Logger } from "../lib/log/logger.ts";
import { openReplicatedObjectStore } from "../lib/nats/jetstream-replicas.ts";
import { buckets, streams, subjects } from "../lib/subjects.ts";
import type { KernelResult } from "../wasm-core/src/kernel-inputs.ts";
import {
  inventoryPart,
  type KernelCall,
  kernelOutputsRecord,
  kernelRequestRecord,
  snapshotKernelRequest,
} from "./kernel-record.ts";
import type { ChorusMetrics } from "./metrics.ts";

export const decisionLogConfigSchema = {
  sampleRate: {
    env: "DECISION_LOG_SAMPLE_RATE",
    // 1%: a full record is ~11 KB; logging every decision would cost more CPU and storage than deciding.
    default: 0.01,
    parse: (raw: string) => {
      const rate = Number(raw);
      if (!(rate >= 0 && rate <= 1)) throw new Error("must be a number from 0 to 1");
      return rate;
    },
    help: "share of decisions recorded, by a hash of the decision id",
  },
  keepNotable: {
    env: "DECISION_LOG_KEEP_NOTABLE",
    default: true,
    parse: parsers.bool,
    help: "also record decisions asked to explain and decisions with a degraded agent (up to DECISION_LOG_NOTABLE_PER_S)",
  },
  notablePerSecond: {
    env: "DECISION_LOG_NOTABLE_PER_S",
    default: 20,
    parse: parsers.int(0, 1_000_000),
    help: "notable (explain, degraded) records kept beyond the sample per second and gateway (bursts up to 1 s)",
  },
  maxAgeSeconds: {
    env: "DECISION_LOG_MAX_AGE_S",
    default: 7 * 24 * 3600,
    parse: parsers.int(1, 366 * 24 * 3600),
    help: "records older than this are removed by the stream",
  },
  maxBytes: {
    env: "DECISION_LOG_MAX_BYTES",
    default: 1024 ** 3,
    parse: parsers.int(1024 * 1024, Number.MAX_SAFE_INTEGER),
    help: "the stream removes its oldest records beyond this size",
  },
  maxPending: {
    env: "DECISION_LOG_MAX_PENDING",
    default: 1000,
    parse: parsers.int(1, 1_000_000),
    help: "records waiting to be published; beyond it records are dropped and counted",
  },
  replicas: {
    env: "DECISION_LOG_REPLICAS",
    // Like every other store unless set on its own (a log may be worth fewer copies than money).
    default: Number(process.env.CHORUS_REPLICAS) || 1,
    parse: parsers.int(1, 5),
    help: "JetStream replicas of the CHORUS_DECISIONS stream",
  },
};

export type DecisionLogConfig = ConfigOf<typeof decisionLogConfigSchema>;

export function loadDecisionLogConfig(env: NodeJS.ProcessEnv = process.env): DecisionLogConfig {
  return loadConfig(decisionLogConfigSchema, env);
}

/** One agent's part in a decision, as the engine saw it. */
export interface AgentEntry {
  agent: string;
  /** The vote that entered the kernel (the fallback's vote for a degraded agent). */
  vote?: AgentVote;
  degraded?: DegradedAgent;
  latencyUs?: number;
}

/** What the decision engine hands to the log once a response is built. */
export interface DecisionEntry {
  decisionId: string;
  decidedAt?: Date;
  /** The request as received; pseudonymised by the log. */
  request: DecideRequest;
  response: DecideResponse;
  coordination: string;
  agents: readonly AgentEntry[];
  /** Defaults to the response's module versions. */
  moduleVersions?: readonly ModuleVersion[];
  /** The kernel call; absent when the decision never reached the kernel (e.g. no eligible candidate). */
  kernel?: KernelCall;
  kernelResult?: KernelResult;
  durationUs?: number;
}

/** Hex HMAC-SHA256 of `id` under `salt`, cut to 128 bits: stable per salt, not reversible without it. */
export function pseudonymize(id: string, salt: string): string {
  if (id === "") return "";
  return createHmac("sha256", salt).update(id, "utf8").digest("hex").slice(0, 32);
}

/** Why a decision is kept, or undefined when sampling leaves it out. */
export function keepReason(
  entry: Pick<DecisionEntry, "decisionId" | "request" | "response" | "agents">,
  config: Pick<DecisionLogConfig, "sampleRate" | "keepNotable">,
): DecisionKeepReason | undefined {
  if (config.keepNotable) {
    if (entry.request.explain) return DecisionKeepReason.EXPLAIN;
    if (entry.response.degradedAgents.length > 0 || entry.agents.some((a) => a.degraded)) {
      return DecisionKeepReason.DEGRADED;
    }
  }
  return sampleFraction(entry.decisionId) < config.sampleRate ? DecisionKeepReason.SAMPLED : undefined;
}

/** FNV-1a of the id mapped to [0, 1): the same decision is in or out of the sample in every process. */
function sampleFraction(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

/**
 * A vote without its per-candidate arrays (scores, bids, predicted responses, intent vector): when the kernel ran,
 * kernel_inputs holds them exactly as the kernel received them, and encoding them twice would double the cost of
 * the record (protobuf-es writes packed floats one by one).
 */
function withoutKernelArrays(vote: AgentVote): AgentVote {
  return { ...vote, scores: [], bidsMicros: [], predictedResponse: [], intentVector: [] };
}

/**
 * Builds the record (kernel inputs without their inventory part, which DecisionLog stores once per inventory);
 * the only place a request enters it, after its identifiers are pseudonymised.
 */
export function buildDecisionRecord(
  entry: DecisionEntry,
  options: { salt: string; keepReason: DecisionKeepReason; gateway: string },
): DecisionRecord {
  const request = clone(DecideRequestSchema, entry.request);
  if (request.user) request.user.userId = pseudonymize(request.user.userId, options.salt);
  if (request.context) request.context.sessionId = pseudonymize(request.context.sessionId, options.salt);
  return create(DecisionRecordSchema, {
    decisionId: entry.decisionId,
    decidedAt: timestampFromDate(entry.decidedAt ?? new Date()),
    request,
    coordination: entry.coordination,
    agents: entry.agents.map((a) => ({
      agent: a.agent,
      vote: entry.kernel && a.vote ? withoutKernelArrays(a.vote) : a.vote,
      degraded: a.degraded,
      latencyUs: a.latencyUs ?? 0,
    })),
    moduleVersions: [...(entry.moduleVersions ?? entry.response.moduleVersions)],
    kernelInputs: entry.kernel ? kernelRequestRecord(entry.kernel, inventoryPart(entry.kernel).name) : undefined,
    kernelResult: entry.kernelResult ? kernelOutputsRecord(entry.kernelResult) : undefined,
    response: entry.response,
    keepReason: options.keepReason,
    durationUs: entry.durationUs ?? 0,
    gateway: options.gateway,
  });
}

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
    await jsm.streams.update(streams.decisions, { ...existing.config, ...limits });
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
    await jsm.streams.update(stream, { ...(await jsm.streams.info(stream)).config, max_age: ttl });
  }
  return objects;
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
    await ensureDecisionStream(nc, options.config);
    const inventories = await ensureInventoryBucket(nc, js, options.config);
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

export class DecisionNotFoundError extends Error {
  override readonly name = "DecisionNotFoundError";
  constructor(readonly decisionId: string) {
    super(
      `decision ${JSON.stringify(decisionId)} is not in the decision log ` +
        `(never recorded, sampled out, or older than the stream's limits)`,
    );
  }
}

/** Reads one decision by id with a direct get on its subject. Throws DecisionNotFoundError when absent. */
export async function readDecisionRecord(nc: NatsConnection, decisionId: string): Promise<DecisionRecord> {
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.direct
    .getMessage(streams.decisions, { last_by_subj: subjects.decisionRecord(decisionId) })
    .catch((err: unknown) => {
      if (/stream not found/i.test(String(err))) {
        throw new Error(`the decision log stream ${streams.decisions} does not exist on this NATS server`, {
          cause: err,
        });
      }
      throw err;
    });
  if (!stored) throw new DecisionNotFoundError(decisionId);
  const record = fromBinary(DecisionRecordSchema, stored.data);
  const inputs = record.kernelInputs;
  if (inputs?.inventoryObject) {
    const objects = await new Objm(jetstream(nc)).open(buckets.decisionInventories);
    const bytes = await objects.getBlob(inputs.inventoryObject);
    if (!bytes) {
      throw new Error(
        `decision ${JSON.stringify(decisionId)}: its inventory ${inputs.inventoryObject} is no longer in ` +
          `${buckets.decisionInventories}`,
      );
    }
    mergeFromBinary(KernelInputsSchema, inputs, bytes);
  }
  return record;
}
