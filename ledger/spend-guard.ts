import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type DecisionReceipt,
  DecisionReceiptSchema,
  type LeaseGrant,
  LeaseGrantSchema,
  LeasePartSchema,
  type LeaseRequest,
  LeaseRequestSchema,
  type ReceiptItem,
  ReceiptItemSchema,
} from "../gen/chorus/v1/ledger_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { subjects } from "../lib/subjects.ts";
import { ConnectionWatch } from "./connection-watch.ts";
import type { SpendGuard, SpendItem } from "./ports.ts";
import { ReceiptSpool } from "./receipt-spool.ts";
import { ReceiptStore } from "./receipt-store.ts";

/** Where lease requests go: the Budget agent over NATS (default), or a BudgetBook in the same process (simulator). */
export interface LeaseChannel {
  request(request: LeaseRequest, timeoutMs: number): Promise<LeaseGrant>;
}

/** Where receipts are recorded: ReceiptStore (JetStream, default) or an in-process book. */
export interface ReceiptSink {
  put(receipt: DecisionReceipt): Promise<void>;
}

export interface SpendGuardOptions {
  /** The NATS connection of the default lease channel and receipt store; unset only with both given. */
  nc?: NatsConnection;
  /** Lease requests (default: request/reply on subjects.budgetLease over `nc`). */
  leases?: LeaseChannel;
  /** Names this gateway in leases and receipts. */
  gatewayId: string;
  logger: Logger;
  /** Wall clock in ms (tests inject one). */
  clock?: () => number;
  /**
   * Where receipts go while NATS is unreachable (fsync'ed, replayed on reconnect). Unset: while NATS is away
   * nothing can be recorded, so nothing paid is sold.
   */
  spoolDir?: string;
  /** Lease request timeout (like a gRPC deadline on the call to the Budget agent). */
  requestTimeoutMs?: number;
  /** A lease is treated as expired this long before its TTL runs out, for clock drift and in-flight commits. */
  expiryMarginMs?: number;
  /** After a denial or a failed request, wait this long before asking again for that campaign. */
  retryAfterMs?: number;
  /** Share one store with the gateway's EventSink, so that events find the receipts it just wrote in memory. */
  receipts?: ReceiptStore | ReceiptSink;
  /** Renew when less than this fraction of the newest lease is left, or when it is past half its TTL. */
  renewBelow?: number;
  /**
   * With a spool: how long a commit waits for the receipts stream's ack before it spools the receipt instead
   * (default 1 s). While the stream elects a leader a publish waits for its timeout (2 s), and a receipt queued behind
   * another publish waited for both: decisions took seconds to answer. A put that succeeds after this is harmless:
   * the spool's copy is stored under the same decision id, and readers drop a receipt they have seen.
   */
  receiptWaitMs?: number;
  /** First wait before replaying spooled receipts (doubled after each failed replay, up to 5 s). Default 1 s. */
  spoolRetryMs?: number;
}

const SPOOL_RETRY_MAX_MS = 5_000;

/**
 * Lease lifecycle, per lease: requested -> held (amount, used, expiresAt) -> expired (dropped; the Budget agent
 * reclaims what was not used). Per campaign at most one request is in flight; a held lease is renewed early (a
 * second lease) so that a busy campaign never runs dry at the boundary.
 */
interface Lease {
  id: string;
  amount: bigint;
  used: bigint;
  /** Local clock: request sent + TTL - margin (earlier than the agent's view of the expiry). */
  expiresAt: number;
  ttlMs: number;
}

/** The part of one ad's price reserved in one lease. */
interface ReservedPart {
  lease: Lease;
  amount: bigint;
}

interface CampaignLeases {
  leases: Lease[];
  inFlight: boolean;
  nextAttemptAt: number;
  lastDenial: LeaseGrant | undefined;
  /**
   * The price of an ad refused for want of headroom, until a new lease arrives. Headroom below it reads as 0:
   * otherwise the gateway's auction keeps picking the campaign for a remainder it cannot pay from, and each
   * such break goes unsold (its other candidates lost too).
   */
  shortOf: bigint | undefined;
}

/** Optional facts about the decision that the receipt carries for the agents (frequency caps). */
export interface CommitContext {
  userId?: string;
}

/**
 * The gateway's spend guard (ledger/ports.ts SpendGuard): holds spend leases from the Budget agent, answers
 * `headroom` from memory, and `commit` reserves each sold ad against a lease and durably records the decision
 * receipt (JetStream ack, or the local spool while NATS is away) before the gateway answers.
 */
export class LeaseSpendGuard implements SpendGuard {
  private readonly campaigns = new Map<string, CampaignLeases>();
  private readonly clock: () => number;
  /** Unset without NATS (an in-process channel is always reachable). */
  private readonly watch: ConnectionWatch | undefined;
  private readonly spool: ReceiptSpool | undefined;
  private readonly margin: number;
  private readonly leaseChannel: LeaseChannel;
  /** Fencing: the newest Budget leader epoch seen in a grant; grants from older epochs are refused. */
  private epoch = 0n;
  /** Grants refused because a newer Budget leader had granted before (a deposed leader answering late). */
  staleGrantsRefused = 0;
  /** Receipts written to the spool since start (the receipts stream did not acknowledge, or NATS was away). */
  receiptsSpooled = 0;
  private replayTimer: NodeJS.Timeout | undefined;
  private replayDelayMs: number;

  private constructor(
    private readonly receipts: ReceiptStore | ReceiptSink,
    private readonly options: SpendGuardOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.margin = options.expiryMarginMs ?? 100;
    const nc = options.nc;
    this.watch = nc ? new ConnectionWatch(nc) : undefined;
    this.leaseChannel = options.leases ?? (nc ? natsLeaseChannel(nc) : missing("leases"));
    this.spool = options.spoolDir ? new ReceiptSpool(options.spoolDir, options.gatewayId) : undefined;
    this.replayDelayMs = options.spoolRetryMs ?? 1_000;
    this.watch?.onReconnect(() => void this.replaySpool());
  }

  static async create(options: SpendGuardOptions): Promise<LeaseSpendGuard> {
    const receipts = options.receipts ?? (options.nc ? await ReceiptStore.open(options.nc) : missing("receipts"));
    const guard = new LeaseSpendGuard(receipts, options);
    await guard.replaySpool();
    return guard;
  }

  headroom(campaignId: string): bigint {
    const now = this.clock();
    const c = this.campaign(campaignId);
    const left = this.prune(c, now);
    this.maybeRenew(campaignId, c, now, left);
    return c.shortOf !== undefined && left < c.shortOf ? 0n : left;
  }

  /** Asks for leases ahead of the first decision (a cold gateway would otherwise sell nothing at first). */
  prefetch(campaignIds: Iterable<string>): void {
    for (const id of campaignIds) this.headroom(id);
  }

  /** Spool lines skipped as corrupt since start (0 without a spool). */
  get corruptSpoolLines(): number {
    return this.spool?.corruptLines ?? 0;
  }

  /** Why the last lease request for a campaign was denied (for no-fill explanations and tests). */
  lastDenial(campaignId: string): LeaseGrant | undefined {
    return this.campaigns.get(campaignId)?.lastDenial;
  }

  async commit(
    decisionId: string,
    items: readonly SpendItem[],
    context: CommitContext = {},
  ): Promise<readonly SpendItem[]> {
    const now = this.clock();
    const taken: { item: SpendItem; parts: ReservedPart[] }[] = [];
    for (const item of items) {
      if (item.priceMicros < 0n) continue;
      // headroom() also renews: a gateway that only commits must not let its leases run dry.
      this.headroom(item.campaignId);
      const c = this.campaign(item.campaignId);
      const parts = this.reserve(c, item.priceMicros, this.prune(c, now));
      if (parts) taken.push({ item, parts });
      else c.shortOf = c.shortOf !== undefined && c.shortOf < item.priceMicros ? c.shortOf : item.priceMicros;
    }
    if (taken.length === 0) return [];
    const receipt = create(DecisionReceiptSchema, {
      decisionId,
      decidedAt: timestampFromMs(now),
      userId: context.userId ?? "",
      gatewayId: this.options.gatewayId,
      items: taken.map(({ item, parts }) =>
        create(ReceiptItemSchema, {
          campaignId: item.campaignId,
          creativeId: item.creativeId,
          priceMicros: item.priceMicros,
          leaseId: parts[0]?.lease.id ?? "", // a free ad: sold without a lease
          leaseParts:
            parts.length > 1
              ? parts.map((p) => create(LeasePartSchema, { leaseId: p.lease.id, amountMicros: p.amount }))
              : [],
        }),
      ) satisfies ReceiptItem[],
    });
    try {
      if (this.watch && !this.watch.connected) throw new Error("NATS is unreachable");
      const put = this.receipts.put(receipt);
      if (this.spool) await withinMs(put, this.options.receiptWaitMs ?? 1_000);
      else await put;
    } catch (err) {
      if (!this.spool) {
        // Unrecorded means unsold. The reservations stay used: the receipt may still reach the stream later.
        this.options.logger.warn({ err, decisionId }, "receipt not stored; selling nothing for this decision");
        return [];
      }
      if (this.receiptsSpooled++ === 0 || !this.spool.pending)
        this.options.logger.warn(
          { err, decisionId },
          "receipt not acknowledged; spooled to disk until it can be stored",
        );
      await this.spool.append(receipt);
      // On a cluster the connection often outlives the stream's leader or quorum: no reconnect would come to
      // replay the spool, so it is retried on a timer as well.
      this.scheduleReplay();
    }
    // An ad whose lease expired while the receipt was being stored is not served: the agent may have reclaimed it.
    const end = this.clock();
    return taken.filter(({ parts }) => parts.every((p) => p.lease.expiresAt > end)).map(({ item }) => item);
  }

  /**
   * Reserves `price` within the campaign's leases (synchronous: concurrent commits cannot both take the same
   * headroom); returns the lease parts used, the largest (named in the receipt's lease_id) first, or undefined
   * when `left` (what they hold in all) is short. A free ad takes no part: it needs no headroom, so no lease (a
   * campaign may hold none), and the expiry of a lease cannot unsell it.
   * One lease that fits is preferred, earliest expiry first (spend what the reclaim would otherwise take back).
   * Otherwise the ad is spread over several leases in expiry order: leases of a campaign arrive one renewal at a
   * time, and their sum is what the Budget agent reserved for this gateway. The receipt then lists every part:
   * counting the whole price against one lease would hide the rest that lease still holds here once the others
   * are reclaimed, and the agent would lease that rest a second time.
   */
  private reserve(c: CampaignLeases, price: bigint, left: bigint): ReservedPart[] | undefined {
    if (price === 0n) return [];
    if (left < price) return undefined;
    const whole = c.leases.find((l) => l.amount - l.used >= price);
    if (whole) {
      whole.used += price;
      return [{ lease: whole, amount: price }];
    }
    const parts: ReservedPart[] = [];
    let rest = price;
    for (const lease of c.leases) {
      const amount = min(lease.amount - lease.used, rest);
      if (amount <= 0n) continue;
      lease.used += amount;
      parts.push({ lease, amount });
      rest -= amount;
      if (rest === 0n) break;
    }
    parts.sort((a, b) => (b.amount > a.amount ? 1 : b.amount < a.amount ? -1 : 0));
    return parts;
  }

  private campaign(id: string): CampaignLeases {
    let c = this.campaigns.get(id);
    if (!c) {
      c = { leases: [], inFlight: false, nextAttemptAt: 0, lastDenial: undefined, shortOf: undefined };
      this.campaigns.set(id, c);
    }
    return c;
  }

  /** Drops expired leases; returns the headroom left in the others. */
  private prune(c: CampaignLeases, now: number): bigint {
    if (c.leases.some((l) => l.expiresAt <= now)) c.leases = c.leases.filter((l) => l.expiresAt > now);
    let left = 0n;
    for (const l of c.leases) left += l.amount - l.used;
    return left;
  }

  private maybeRenew(campaignId: string, c: CampaignLeases, now: number, left: bigint): void {
    if (c.inFlight || now < c.nextAttemptAt) return;
    const newest = c.leases.at(-1);
    const renewBelow = this.options.renewBelow ?? 0.5;
    const needed =
      !newest || Number(left) < Number(newest.amount) * renewBelow || newest.expiresAt - now < newest.ttlMs / 2;
    if (needed) void this.request(campaignId, c);
  }

  private async request(campaignId: string, c: CampaignLeases): Promise<void> {
    c.inFlight = true;
    const sentAt = this.clock();
    try {
      const grant = await this.leaseChannel.request(
        create(LeaseRequestSchema, { gatewayId: this.options.gatewayId, campaignId }),
        this.options.requestTimeoutMs ?? 500,
      );
      if (grant.amountMicros > 0n && grant.epoch < this.epoch) {
        this.staleGrantsRefused++;
        this.options.logger.warn(
          { campaignId, epoch: grant.epoch.toString(), newest: this.epoch.toString() },
          "lease from a deposed Budget leader refused",
        );
        c.nextAttemptAt = this.clock() + (this.options.retryAfterMs ?? 250);
      } else if (grant.amountMicros > 0n) {
        if (grant.epoch > this.epoch) this.epoch = grant.epoch;
        c.leases.push({
          id: grant.leaseId,
          amount: grant.amountMicros,
          used: 0n,
          expiresAt: sentAt + grant.ttlMs - this.margin,
          ttlMs: grant.ttlMs,
        });
        c.leases.sort((a, b) => a.expiresAt - b.expiresAt);
        c.lastDenial = undefined;
        c.shortOf = undefined;
      } else {
        c.lastDenial = grant;
        c.nextAttemptAt = this.clock() + (this.options.retryAfterMs ?? 250);
      }
    } catch (err) {
      this.options.logger.debug({ err, campaignId }, "lease request failed");
      c.nextAttemptAt = this.clock() + (this.options.retryAfterMs ?? 250);
    } finally {
      c.inFlight = false;
    }
  }

  /**
   * Replays the spool: at start (a predecessor's receipts), on every reconnect, and on a timer while receipts wait
   * on disk, with backoff after a failure. Until a receipt is stored the ledger cannot charge its ad's impression
   * (the event is refused as an unknown decision and the client retries it), so the spool must not wait for an
   * event that may never come.
   */
  private async replaySpool(): Promise<void> {
    if (!this.spool || !(this.receipts instanceof ReceiptStore)) return;
    if (this.watch && !this.watch.connected) return; // the reconnect replays
    try {
      const { stored, corrupt } = await this.spool.replay(this.receipts);
      if (stored > 0) this.options.logger.warn({ receipts: stored }, "spooled receipts stored");
      if (corrupt > 0)
        this.options.logger.error(
          { corrupt, kept: `${this.options.spoolDir}/${this.options.gatewayId}.corrupt` },
          "corrupt spool lines skipped",
        );
      this.replayDelayMs = this.options.spoolRetryMs ?? 1_000;
    } catch (err) {
      this.replayDelayMs = Math.min(this.replayDelayMs * 2, SPOOL_RETRY_MAX_MS);
      this.options.logger.warn({ err, retryInMs: this.replayDelayMs }, "spooled receipts not stored yet; retrying");
    }
    if (this.spool.pending) this.scheduleReplay();
  }

  private scheduleReplay(): void {
    if (this.replayTimer) return;
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      void this.replaySpool();
    }, this.replayDelayMs);
    this.replayTimer.unref();
  }
}

/** The SpendGuard the gateway uses. */
export function createSpendGuard(options: SpendGuardOptions): Promise<LeaseSpendGuard> {
  return LeaseSpendGuard.create(options);
}

/** Lease requests as request/reply to the Budget agent (queue group "budget"). */
function natsLeaseChannel(nc: NatsConnection): LeaseChannel {
  return {
    async request(request, timeoutMs) {
      const reply = await nc.request(subjects.budgetLease, toBinary(LeaseRequestSchema, request), {
        timeout: timeoutMs,
      });
      return fromBinary(LeaseGrantSchema, reply.data);
    },
  };
}

function missing(option: string): never {
  throw new Error(`spend guard: without nc, options.${option} is required`);
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** `promise`, or a rejection after `ms` (the promise runs on; its own failure is then ignored). */
function withinMs(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`receipt not acknowledged within ${ms} ms`)), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
