import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Consumer, DeliverPolicy, type JetStreamClient, type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  DecisionReceiptSchema,
  LeaseDenial,
  LeaseGrantSchema,
  LeaseRequestSchema,
  ReceiptBatchSchema,
} from "../../gen/chorus/v1/ledger_pb.ts";
import { ConnectionWatch } from "../../ledger/connection-watch.ts";
import { readLedgerEntry } from "../../ledger/event-rules.ts";
import { ensureLedgerStreams, openLedgerBucket } from "../../ledger/ledger-streams.ts";
import { readStoredTotals } from "../../ledger/snapshot-store.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { decodeDecisionReceipt, decodeReceiptBatch } from "../../lib/codecs/decision-receipt.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { reportBadMessage } from "../../lib/nats/bad-messages.ts";
import { RESUMING_CONSUME } from "../../lib/nats/consume-options.ts";
import { readMessage } from "../../lib/nats/read-message.ts";
import { respondInWindow } from "../../lib/nats/respond-in-window.ts";
import { retryTransient } from "../../lib/nats/transient-retry.ts";
import { guardedInterval } from "../../lib/process/survive.ts";
import { streams, subjects } from "../../lib/subjects.ts";
import type { BudgetState } from "../../voting/budget/state.ts";
import { BudgetBook, type BudgetPolicy } from "./budget-book.ts";

export interface BudgetServiceOptions {
  nc: NatsConnection;
  catalog: CatalogView;
  /** The Budget agent's state (RunningAgent.state): the service attaches its books to it. */
  state: BudgetState;
  logger: Logger;
  policy?: Partial<BudgetPolicy>;
  clock?: () => number;
  instanceId?: string;
  /** How often expired leases and unchargeable sales are swept. */
  upkeepMs?: number;
  /**
   * Leader mode (agents/budget/budget-leadership.ts): the book reads the lease log before its first grant, so it
   * grants at once; every grant carries `epoch`, is written to the lease log before it is answered, and is made
   * only while `isLeader()`. Unset: the single-instance mode of old (waits for unknown leases to expire).
   * `serve: false` (a standby) keeps the book up to date for votes and signals but answers no lease request.
   */
  leader?: { epoch: number; isLeader: () => boolean };
  serve?: boolean;
}

/**
 * The Budget agent's money side: feeds its BudgetBook from JetStream (the ledger's persisted totals, then the
 * events stream after them; the receipts of the impression window) and answers LeaseRequest on
 * `subjects.budgetLease` (queue group "budget"; the books live in one instance, so run one active instance).
 *
 * Start-up: the ledger snapshot gives charged totals up to a sequence; the last impression window of the events
 * stream is read first to learn which recent sales are already charged; then the lease log (leases still live,
 * whoever granted them), the receipts of the window and the later events, each read to its end before the service
 * answers and followed live after. In leader mode the book then knows every live lease and grants at once;
 * without it (no election) leases granted by a previous instance may be unknown, so none is granted until they
 * have expired.
 */
export class BudgetService {
  private readonly stops: (() => void)[] = [];
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Set when serving: what the upkeep does and how often. */
  private upkeep: { ms: number; run: () => void } | undefined;

  private constructor(
    readonly book: BudgetBook,
    private readonly options: BudgetServiceOptions,
  ) {}

  static async start(options: BudgetServiceOptions): Promise<BudgetService> {
    const clock = options.clock ?? Date.now;
    const { nc, catalog, logger } = options;
    // No account-info round trip (checkAPI): it only adds a request that can time out while a server restarts.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await ensureLedgerStreams(jsm);
    const instance = options.instanceId ?? crypto.randomUUID().slice(0, 8);
    const leader = options.leader;
    const book = new BudgetBook(options.policy ?? {}, clock(), leader ? `${instance}-e${leader.epoch}` : instance, {
      knowsLeases: leader !== undefined,
    });
    const service = new BudgetService(book, options);
    options.state.book = book;
    const campaignsOf = (inventory: Inventory) =>
      new Map(inventory.candidates.map((c) => [c.campaign.id, c.campaign])).values();
    book.setCampaigns(campaignsOf(catalog.inventory));
    service.stops.push(catalog.onChange((inventory) => book.setCampaigns(campaignsOf(inventory))));

    const stored = await readStoredTotals(await openLedgerBucket(jsm), logger);
    if (stored.revision > 0) book.loadCharged(stored.totals);
    // Entries the ledger quarantines are skipped here too (counted), so both fold the same stream alike.
    const onEntry = (m: JsMsg, live: boolean) => {
      const read = readLedgerEntry(m.data);
      if (read.ok) {
        book.onEntry(BigInt(m.seq), read.message, clock(), live);
        service.armUpkeep();
      } else reportBadMessage(logger, { consumer: "budget", subject: m.subject, seq: m.seq, ...read });
    };
    const js = jsm.jetstream();
    const windowStart = new Date(clock() - book.policy.impressionWindowMs - book.policy.reclaimGraceMs).toISOString();
    await drain(
      await retryTransient(
        "events consumer",
        () =>
          js.consumers.get(streams.events, {
            filter_subjects: subjects.adEventsOfType("impression"),
            deliver_policy: DeliverPolicy.StartTime,
            opt_start_time: windowStart,
          }),
        { logger },
      ),
      (m) => onEntry(m, false),
    );
    // Leases first, so that the receipts after them count what was sold within each.
    const leaseWindowStart = new Date(clock() - book.policy.leaseTtlMs - book.policy.reclaimGraceMs - 1_000);
    await service.follow(
      js,
      streams.leases,
      { deliver_policy: DeliverPolicy.StartTime, opt_start_time: leaseWindowStart.toISOString() },
      (m) => {
        book.adoptLease(fromBinary(LeaseGrantSchema, m.data), Math.floor(m.info.timestampNanos / 1e6), clock());
        service.armUpkeep();
      },
    );
    const receiptsFeed = await service.follow(
      js,
      streams.receipts,
      { deliver_policy: DeliverPolicy.StartTime, opt_start_time: windowStart },
      (m) => {
        // A batch (group commit) is read once; each receipt in it counts as if it had come alone, and the book
        // drops one it has seen (the same receipt may also come alone from a replayed spool).
        if (subjects.isReceiptBatchSubject(m.subject)) {
          const read = readMessage(ReceiptBatchSchema, m.data, decodeReceiptBatch);
          if (read.ok) for (const receipt of read.message.receipts) book.onReceipt(receipt, clock());
          else reportBadMessage(logger, { consumer: "budget", subject: m.subject, seq: m.seq, ...read });
          service.armUpkeep();
          return;
        }
        // Read by hand (lib/codecs/decision-receipt.ts): fromBinary was most of this agent's work per receipt.
        const read = readMessage(DecisionReceiptSchema, m.data, decodeDecisionReceipt);
        if (read.ok) book.onReceipt(read.message, clock());
        else reportBadMessage(logger, { consumer: "budget", subject: m.subject, seq: m.seq, ...read });
        service.armUpkeep();
      },
    );
    await service.follow(
      js,
      streams.events,
      { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Number(book.charged.lastSequence) + 1 },
      (m) => onEntry(m, true),
    );
    if (options.serve === false) {
      logger.info({ chargedUpTo: book.charged.lastSequence.toString() }, "budget book ready (standby)");
      return service;
    }

    const watch = new ConnectionWatch(nc);
    service.upkeep = {
      ms: options.upkeepMs ?? 250,
      // Right after a reconnect gateways replay spooled receipts: do not reclaim leases before they are in.
      run: () =>
        book.expire(
          clock(),
          watch.connected && Date.now() - watch.reconnectedAt > book.policy.reclaimGraceMs
            ? receiptsFeed.readAtMs
            : Number.NEGATIVE_INFINITY,
        ),
    };
    service.armUpkeep();
    service.sub = nc.subscribe(subjects.budgetLease, {
      queue: "budget",
      callback: (_err, msg) => {
        const receivedAt = performance.now();
        let grant: ReturnType<typeof book.grant>;
        try {
          const request = fromBinary(LeaseRequestSchema, msg.data);
          if (leader && !leader.isLeader())
            grant = create(LeaseGrantSchema, {
              campaignId: request.campaignId,
              denial: LeaseDenial.NOT_SERVING,
              reason: "this Budget instance is no longer the leader; ask again",
            });
          else grant = book.grant(request, clock());
          service.armUpkeep();
          grant.gatewayId = request.gatewayId;
        } catch (err) {
          grant = create(LeaseGrantSchema, {
            denial: LeaseDenial.NOT_SERVING,
            reason: `bad lease request: ${String(err)}`,
          });
        }
        if (!leader || grant.amountMicros <= 0n) {
          msg.respond(toBinary(LeaseGrantSchema, grant));
          return;
        }
        grant.epoch = BigInt(leader.epoch);
        // In the log before the gateway holds it: a successor then knows every lease a gateway may sell from. If
        // the log cannot take it, the lease stays counted here (exposure, reclaimed after its TTL) and is not given.
        const bytes = toBinary(LeaseGrantSchema, grant);
        // Answered only within the bus's response window: a lease logged but not answered in time stays exposure
        // here until reclaimed, and the gateway, which gave up on it, asks again.
        js.publish(subjects.leaseLog(grant.campaignId), bytes, { msgID: grant.leaseId, timeout: 1_000 }).then(
          () => {
            if (!respondInWindow(msg, bytes, receivedAt))
              logger.warn({ campaignId: grant.campaignId }, "lease logged too late to answer; not granted");
          },
          (err: unknown) => {
            logger.warn({ err, campaignId: grant.campaignId }, "lease not logged; not granted");
            respondInWindow(
              msg,
              toBinary(
                LeaseGrantSchema,
                create(LeaseGrantSchema, {
                  campaignId: grant.campaignId,
                  denial: LeaseDenial.NOT_SERVING,
                  reason: "the lease log is unavailable; ask again",
                }),
              ),
              receivedAt,
            );
          },
        );
      },
    });
    logger.info(
      { chargedUpTo: book.charged.lastSequence.toString(), epoch: leader?.epoch },
      leader ? "budget leader granting" : "budget service ready",
    );
    return service;
  }

  /**
   * The upkeep (expiring sold ads, recent charges and leases) ticks only while the book holds any of them: an idle
   * Budget agent with nothing outstanding is not woken 4 times a second for nothing.
   */
  private armUpkeep(): void {
    if (this.upkeep === undefined || this.timer !== undefined) return;
    const { ms, run } = this.upkeep;
    this.timer = guardedInterval("budget upkeep", ms, () => {
      run();
      if (this.book.holdsNothing()) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
  }

  /** Stops answering lease requests at once (a deposed leader), keeping the book. */
  stopGranting(): void {
    this.sub?.unsubscribe();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.upkeep = undefined;
    if (this.sub && !this.sub.isClosed()) await this.sub.drain();
    for (const stop of this.stops) stop();
  }

  private async follow(
    js: JetStreamClient,
    stream: string,
    opts: Parameters<JetStreamClient["consumers"]["get"]>[1],
    handle: (m: JsMsg) => void,
  ): Promise<FeedPosition> {
    // Retried while JetStream is not ready: a new leader used to exit here on a timeout after a server kill.
    const consumer = await retryTransient(`${stream} consumer`, () => js.consumers.get(stream, opts), {
      logger: this.options.logger,
    });
    const clock = this.options.clock ?? Date.now;
    const position: FeedPosition = { readAtMs: Number.NEGATIVE_INFINITY };
    // What the stream holds now is applied before the caller goes on (the book is whole before it grants).
    let wholeNow!: () => void;
    const whole = new Promise<void>((resolve) => {
      wholeNow = resolve;
    });
    const caughtUp = () => {
      position.readAtMs = clock();
      wholeNow();
    };
    const messages = await consumer.consume(RESUMING_CONSUME);
    void createdPending(consumer).then((pending) => {
      if (pending === 0) caughtUp();
    });
    // The server sends an idle heartbeat only when it has nothing more to deliver: the feed was caught up then.
    void (async () => {
      for await (const s of messages.status()) if (s.type === "heartbeat") position.readAtMs = clock();
    })();
    this.stops.push(() => {
      void messages.stop();
      wholeNow();
    });
    void (async () => {
      for await (const m of messages) {
        try {
          handle(m);
        } catch (err) {
          this.options.logger.error({ err, stream, seq: m.seq }, "budget feed message not applied");
        }
        if (m.info.pending === 0) caughtUp();
      }
    })();
    await whole;
    return position;
  }
}

/** When a followed feed last had every message its stream then held (-Infinity until it first has). */
interface FeedPosition {
  readAtMs: number;
}

/**
 * How many messages an ordered consumer had to deliver when the server created it (its ConsumerInfo, which the
 * client keeps once consume() has created it); undefined if that takes over 10 s.
 */
async function createdPending(consumer: Consumer): Promise<number | undefined> {
  const until = Date.now() + 10_000;
  for (;;) {
    const pending = (consumer as unknown as { _info?: { num_pending?: number } })._info?.num_pending;
    if (pending !== undefined || Date.now() > until) return pending;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads an ordered consumer until it has nothing more (the stream's end at this moment). */
async function drain(consumer: Consumer, handle: (m: JsMsg) => void): Promise<void> {
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 1_000 });
    let n = 0;
    let done = false;
    for await (const m of batch) {
      n++;
      handle(m);
      if (m.info.pending === 0) done = true;
    }
    if (n === 0 || done) return;
  }
}
