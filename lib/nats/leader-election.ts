import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { type ConfigField, loadConfig, parsers } from "../config/config.ts";
import type { Logger } from "../log/logger.ts";
import { buckets } from "../subjects.ts";
import { openReplicatedBucket } from "./jetstream-replicas.ts";

export const leaderElectionConfig = {
  ttlMs: {
    env: "CHORUS_LEADER_TTL_MS",
    default: 2_000,
    parse: parsers.int(500, 60_000),
    help: "a leader that has not renewed its key for this long is replaced (the election bucket's max age)",
  },
} satisfies Record<string, ConfigField<unknown>>;

/** The election bucket (`chorus_leaders`): one key per role, expiring `ttlMs` after its last write. */
export function openLeaderBucket(js: JetStreamClient, ttlMs = loadConfig(leaderElectionConfig).ttlMs): Promise<KV> {
  return openReplicatedBucket(js, buckets.leaders, {
    history: 1,
    ttl: ttlMs,
    description: "Chorus leader election: one key per role (budget, ledger), see lib/nats/leader-election.ts",
  });
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
    } catch {
      return; // held by someone else (or NATS is away): stay standby
    }
    if (this.stopped) {
      await this.options.kv.delete(this.options.key, { previousSeq: revision }).catch(() => undefined);
      return;
    }
    this.state = { role: "leader", epoch: revision, revision, until: sentAt + this.options.ttlMs - this.margin };
    this.armExpiry();
    this.options.logger.info({ role: this.options.key, epoch: revision }, "elected leader");
    this.options.onElected(revision);
  }

  private async renew(state: Extract<LeaderState, { role: "leader" }>): Promise<void> {
    const sentAt = this.clock();
    try {
      const revision = await this.options.kv.update(this.options.key, this.value(), state.revision);
      if (this.state !== state) return;
      state.revision = revision;
      state.until = sentAt + this.options.ttlMs - this.margin;
      this.armExpiry();
    } catch (err) {
      if (this.state !== state) return;
      if (/wrong last sequence/i.test((err as Error).message)) {
        this.options.logger.warn({ role: this.options.key, epoch: state.epoch }, "leadership taken over");
        this.depose();
      } else {
        this.options.logger.warn({ err, role: this.options.key }, "leader key not renewed; retrying");
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
