import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { type ConfigField, loadConfig, parsers } from "../config/config.ts";
import type { Logger } from "../log/logger.ts";
import { buckets } from "../subjects.ts";
import { configuredReplicas, openReplicatedBucket } from "./jetstream-replicas.ts";

export const leaderElectionConfig = {
  ttlMs: {
    env: "CHORUS_LEADER_TTL_MS",
    default: 2_000,
    parse: parsers.int(500, 60_000),
    help: "a leader that has not renewed its key for this long is replaced (the election bucket's max age)",
  },
} satisfies Record<string, ConfigField<unknown>>;

/** The election bucket (`chorus_leaders`): one key per role, expiring `ttlMs` after its last write. */
export function openLeaderBucket(
  js: JetStreamClient,
  ttlMs = loadConfig(leaderElectionConfig).ttlMs,
  replicas = configuredReplicas(),
): Promise<KV> {
  return openReplicatedBucket(
    js,
    buckets.leaders,
    {
      history: 1,
      ttl: ttlMs,
      description: "Chorus leader election: one key per role (budget, ledger), see lib/nats/leader-election.ts",
    },
    replicas,
  );
}

export interface LeaderElectionOptions {
  kv: KV;
  /** The role: `budget`, `ledger`. */
  key: string;
  /** Names this instance in the key's value (for operators). */
  instanceId: string;
  /** Must equal the bucket's max age: the key expires this long after the leader's last renewal. */
  ttlMs: number;
  logger: Logger;
  /** Elected: `epoch` is the revision of the write that won, larger than every earlier leader's. */
  onElected: (epoch: number) => void;
  /** No longer leader (lost a renewal race, or could not renew before its lease ran out). */
  onDeposed: (epoch: number) => void;
  /** After each campaign attempt (won or not). */
  onAttempt?: () => void;
  /**
   * Given, a candidate whose writes to the election stream fail for `stallMs` (timeouts, no responders) asks the
   * stream's leader to step down, at most once per `stallMs`: nats-server 2.9 can keep a stream leader that
   * answers no publish after a server of the cluster was killed (seen in the chaos run, minutes without a leader),
   * and a new stream leader answers again.
   */
  nc?: NatsConnection;
  /** Default max(3 TTL, 6 s). */
  stallMs?: number;
  clock?: () => number;
}

export type LeaderState = { role: "standby" } | { role: "leader"; epoch: number; revision: number; until: number };

/**
 * Exactly one active instance per role, over JetStream KV (works on nats-server 2.9, no per-message TTL needed):
 *
 * - The role's key lives in a bucket whose max age is the TTL, so a leader that stops writing loses the key.
 * - Standby: `create(key)` (compare-and-set against "no value") every TTL/8; the one that succeeds is leader, and
 *   the revision of that write is its **epoch**: stream sequences only grow, so every new leader's epoch is larger.
 * - Leader: `update(key, revision)` every TTL/4 (compare-and-set against its own last write). A conflict means
 *   someone else holds the key: deposed at once. It also deposes itself locally once TTL minus a margin has passed
 *   since the last renewal it *sent* that succeeded, before the server lets the key expire, so two instances never
 *   both think they lead on one machine's clock. Work done on its behalf (lease grants) carries the epoch, and
 *   receivers refuse an older epoch than one they saw: the fence for what a paused leader sends late.
 * - `resign()` (graceful stop) deletes the key with compare-and-set, so a standby takes over at its next poll.
 */
export class LeaderElection {
  state: LeaderState = { role: "standby" };
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private busy = false;
  /** Campaigns or renewals in a row that failed for another reason than "the key is held". */
  private failures = 0;
  /** When the current run of failures began, and when this instance last asked for a stream step-down. */
  private failingSince = 0;
  private lastStepDown = 0;
  private readonly clock: () => number;
  private readonly margin: number;

  constructor(private readonly options: LeaderElectionOptions) {
    this.clock = options.clock ?? Date.now;
    this.margin = Math.max(100, options.ttlMs / 5);
  }

  start(): this {
    this.schedule(0);
    return this;
  }

  /** True only while this instance holds an unexpired lease on the role. */
  isLeader(): boolean {
    return this.state.role === "leader" && this.clock() < this.state.until;
  }

  get epoch(): number {
    return this.state.role === "leader" ? this.state.epoch : 0;
  }

  /** Stops campaigning; a leader gives the role up at once. */
  async resign(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiryTimer);
    const state = this.state;
    if (state.role !== "leader") return;
    this.depose();
    await this.options.kv.delete(this.options.key, { previousSeq: state.revision }).catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      if (this.state.role === "leader") await this.renew(this.state);
      else {
        await this.campaign();
        this.options.onAttempt?.();
      }
    } finally {
      this.busy = false;
      this.schedule(this.state.role === "leader" ? this.options.ttlMs / 4 : this.options.ttlMs / 8);
    }
  }

  private value(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ instance: this.options.instanceId, pid: process.pid }));
  }

  private async campaign(): Promise<void> {
    const sentAt = this.clock();
    let revision: number;
    try {
      revision = await this.options.kv.create(this.options.key, this.value());
    } catch (err) {
      await this.campaignFailed(err);
      return;
    }
    this.failures = 0;
    if (this.stopped) {
      await this.options.kv.delete(this.options.key, { previousSeq: revision }).catch(() => undefined);
      return;
    }
    this.state = { role: "leader", epoch: revision, revision, until: sentAt + this.options.ttlMs - this.margin };
    this.armExpiry();
    this.options.logger.info({ role: this.options.key, epoch: revision }, "elected leader");
    this.options.onElected(revision);
  }

  /**
   * Why a `create` failed. Only "wrong last sequence" with a live value under the key means someone else leads;
   * anything else (a timeout, no stream leader, a connection away, a refusal while the key is absent) is logged and
   * the campaign is tried again at the next poll.
   */
  private async campaignFailed(err: unknown): Promise<void> {
    const { key } = this.options;
    let keyAbsent = false;
    if (isWrongLastSequence(err)) {
      const entry = await this.options.kv.get(key).catch(() => undefined);
      if (entry === undefined || entry?.operation === "PUT") {
        this.failures = 0;
        return; // held by someone else (or unknown: the next poll looks again): stay standby
      }
      keyAbsent = true;
    }
    await this.failed(err, "campaign failed; trying again", { keyAbsent });
  }

  /** Counts a failure that is not a compare-and-set conflict; a run of them long enough repairs the stream. */
  private async failed(err: unknown, msg: string, fields: Record<string, unknown> = {}): Promise<void> {
    const { key, logger } = this.options;
    const now = this.clock();
    if (this.failures++ === 0) this.failingSince = now;
    // The first failures and then one in 20, so a long outage is seen without flooding the log.
    if (this.failures <= 3 || this.failures % 20 === 0)
      logger.warn({ err, role: key, failures: this.failures, ...fields }, msg);
    const stallMs = this.options.stallMs ?? Math.max(3 * this.options.ttlMs, 6_000);
    if (!this.options.nc || now - this.failingSince < stallMs || now - this.lastStepDown < stallMs) return;
    this.lastStepDown = now;
    const stream = `KV_${buckets.leaders}`;
    const answer = await this.options.nc
      .request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 2_000 })
      .then((m) => m.string())
      .catch((e: Error) => `no answer: ${e.message}`);
    logger.warn(
      { role: key, stream, failingForMs: now - this.failingSince, answer },
      "election stream not answering; asked its leader to step down",
    );
  }

  private async renew(state: Extract<LeaderState, { role: "leader" }>): Promise<void> {
    const sentAt = this.clock();
    try {
      const revision = await this.options.kv.update(this.options.key, this.value(), state.revision);
      if (this.state !== state) return;
      state.revision = revision;
      state.until = sentAt + this.options.ttlMs - this.margin;
      this.failures = 0;
      this.armExpiry();
    } catch (err) {
      if (this.state !== state) return;
      if (isWrongLastSequence(err)) {
        this.options.logger.warn({ role: this.options.key, epoch: state.epoch }, "leadership taken over");
        this.depose();
      } else {
        await this.failed(err, "leader key not renewed; retrying");
      }
    }
  }

  /** Deposes this instance when its lease runs out without a renewal (NATS away, event loop stalled). */
  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    if (this.state.role !== "leader") return;
    const state = this.state;
    this.expiryTimer = setTimeout(
      () => {
        if (this.state !== state) return;
        if (this.clock() < state.until) return this.armExpiry();
        this.options.logger.warn({ role: this.options.key, epoch: state.epoch }, "leader lease ran out");
        this.depose();
      },
      Math.max(0, state.until - this.clock()),
    );
  }

  private depose(): void {
    const state = this.state;
    if (state.role !== "leader") return;
    clearTimeout(this.expiryTimer);
    this.state = { role: "standby" };
    this.options.onDeposed(state.epoch);
  }
}

/** JetStream's compare-and-set refusal: the subject's last revision is not the one the write expected. */
function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError
    ? err.code === JetStreamApiCodes.StreamWrongLastSequence ||
        err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
    : /wrong last sequence/i.test((err as Error)?.message ?? "");
}

/** Who leads a role now (for operators and the chaos run): undefined when nobody does. */
export async function currentLeader(
  kv: KV,
  key: string,
): Promise<{ instance: string; pid: number; revision: number } | undefined> {
  const entry = await kv.get(key);
  if (entry?.operation !== "PUT") return undefined;
  return {
    ...(JSON.parse(new TextDecoder().decode(entry.value)) as { instance: string; pid: number }),
    revision: entry.revision,
  };
}
