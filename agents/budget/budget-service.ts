import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Consumer, DeliverPolicy, type JetStreamClient, type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  DecisionReceiptSchema,
  LeaseDenial,
  LeaseGrantSchema,
  LeaseRequestSchema,
} from "../../gen/chorus/v1/ledger_pb.ts";
import { ConnectionWatch } from "../../ledger/connection-watch.ts";
import { readLedgerEntry } from "../../ledger/event-rules.ts";
import { readSnapshot } from "../../ledger/ledger.ts";
import { ensureLedgerStreams, openLedgerBucket } from "../../ledger/ledger-streams.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { reportBadMessage } from "../../lib/nats/bad-messages.ts";
import { readMessage } from "../../lib/nats/read-message.ts";
import { streams, subjects } from "../../lib/subjects.ts";
import { BudgetBook, type BudgetPolicy } from "./budget-book.ts";
import type { BudgetState } from "./state.ts";

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
}

/**
 * The Budget agent's money side: feeds its BudgetBook from JetStream (the ledger's persisted totals, then the
 * events stream after them; the receipts of the impression window) and answers LeaseRequest on
 * `subjects.budgetLease` (queue group "budget"; the books live in one instance, so run one active instance).
 *
 * Start-up: the ledger snapshot gives charged totals up to a sequence; the last impression window of the events
 * stream is read first to learn which recent sales are already charged; then receipts and later events follow
 * live. Leases granted by a previous instance are unknown, so none is granted until they have expired.
 */
export class BudgetService {
  private readonly stops: (() => void)[] = [];
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly book: BudgetBook,
    private readonly options: BudgetServiceOptions,
  ) {}

  static async start(options: BudgetServiceOptions): Promise<BudgetService> {
    const clock = options.clock ?? Date.now;
    const { nc, catalog, logger } = options;
    const jsm = await jetstreamManager(nc);
    await ensureLedgerStreams(jsm);
    const book = new BudgetBook(options.policy ?? {}, clock(), options.instanceId ?? crypto.randomUUID().slice(0, 8));
    const service = new BudgetService(book, options);
    options.state.book = book;
    const campaignsOf = (inventory: Inventory) =>
      new Map(inventory.candidates.map((c) => [c.campaign.id, c.campaign])).values();
    book.setCampaigns(campaignsOf(catalog.inventory));
    service.stops.push(catalog.onChange((inventory) => book.setCampaigns(campaignsOf(inventory))));

    const stored = await (await openLedgerBucket(jsm)).get("snapshot");
    if (stored?.operation === "PUT") book.loadCharged(readSnapshot(stored, logger));
    // Entries the ledger quarantines are skipped here too (counted), so both fold the same stream alike.
    const onEntry = (m: JsMsg, live: boolean) => {
      const read = readLedgerEntry(m.data);
      if (read.ok) book.onEntry(BigInt(m.seq), read.message, clock(), live);
      else reportBadMessage(logger, { consumer: "budget", subject: m.subject, seq: m.seq, ...read });
    };
    const js = jsm.jetstream();
    const windowStart = new Date(clock() - book.policy.impressionWindowMs - book.policy.reclaimGraceMs).toISOString();
    await drain(
      await js.consumers.get(streams.events, {
        filter_subjects: subjects.adEventsOfType("impression"),
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: windowStart,
      }),
      (m) => onEntry(m, false),
    );
    await service.follow(
      js,
      streams.receipts,
      { deliver_policy: DeliverPolicy.StartTime, opt_start_time: windowStart },
      (m) => {
        const read = readMessage(DecisionReceiptSchema, m.data);
        if (read.ok) book.onReceipt(read.message, clock());
        else reportBadMessage(logger, { consumer: "budget", subject: m.subject, seq: m.seq, ...read });
      },
    );
    await service.follow(
      js,
      streams.events,
      { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Number(book.charged.lastSequence) + 1 },
      (m) => onEntry(m, true),
    );

    const watch = new ConnectionWatch(nc);
    service.timer = setInterval(() => {
      const now = clock();
      // Right after a reconnect gateways replay spooled receipts: do not reclaim leases before they are in.
      book.expire(now, watch.connected && Date.now() - watch.reconnectedAt > book.policy.reclaimGraceMs);
    }, options.upkeepMs ?? 250);
    service.sub = nc.subscribe(subjects.budgetLease, {
      queue: "budget",
      callback: (_err, msg) => {
        let grant: ReturnType<typeof book.grant>;
        try {
          grant = book.grant(fromBinary(LeaseRequestSchema, msg.data), clock());
        } catch (err) {
          grant = create(LeaseGrantSchema, {
            denial: LeaseDenial.NOT_SERVING,
            reason: `bad lease request: ${String(err)}`,
          });
        }
        msg.respond(toBinary(LeaseGrantSchema, grant));
      },
    });
    logger.info({ chargedUpTo: book.charged.lastSequence.toString() }, "budget service ready");
    return service;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sub?.drain();
    for (const stop of this.stops) stop();
  }

  private async follow(
    js: JetStreamClient,
    stream: string,
    opts: Parameters<JetStreamClient["consumers"]["get"]>[1],
    handle: (m: JsMsg) => void,
  ): Promise<void> {
    const consumer = await js.consumers.get(stream, opts);
    const messages = await consumer.consume();
    this.stops.push(() => void messages.stop());
    void (async () => {
      for await (const m of messages) {
        try {
          handle(m);
        } catch (err) {
          this.options.logger.error({ err, stream, seq: m.seq }, "budget feed message not applied");
        }
      }
    })();
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
