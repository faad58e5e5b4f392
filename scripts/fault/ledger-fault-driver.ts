import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import {
  type AdEvent,
  AdEventType,
  EventResult_Status,
  ReportEventsRequestSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { createEventSink } from "../../ledger/event-sink.ts";
import { adEvent } from "../../ledger/ledger-test-kit.ts";
import { ReceiptStore } from "../../ledger/receipt-store.ts";
import { createSpendGuard } from "../../ledger/spend-guard.ts";
import { loadConfig, parsers } from "../../lib/config/config.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { connectNats } from "../../lib/nats/connect.ts";

/**
 * A gateway under fault injection (child process of ledger-fault.ts): sells ads through a real SpendGuard and
 * reports their impressions (plus quartiles, repeats of the same event id and second impressions of the same ad
 * under new ids) through a real EventSink, until DRIVER_EVENTS impressions are confirmed.
 *
 * Like a real client it writes each event to its log before sending it ("S ...") and marks it once the server
 * stored it ("C id"); after a kill -9 it first re-sends what was sent but never confirmed. The runner computes
 * the expected ledger from these logs alone. Each line also keeps the receipt batch of its decision (what a real
 * client holds in the ad's event token), so that a restarted driver, whose receipt cache is gone, still finds it.
 */
const config = loadConfig({
  natsUrl: { env: "NATS_URL", default: "", parse: parsers.string, help: "NATS server URL" },
  id: { env: "DRIVER_ID", default: "d0", parse: parsers.string, help: "driver id" },
  log: { env: "DRIVER_LOG", default: "", parse: parsers.string, help: "event log file" },
  events: { env: "DRIVER_EVENTS", default: 1_000, parse: parsers.int(1, 100_000_000), help: "impressions to confirm" },
  campaigns: { env: "DRIVER_CAMPAIGNS", default: [] as string[], parse: parsers.list, help: "campaign ids" },
});
const logger = createLogger(`fault-driver-${config.id}`, "warn");
const nc = await connectNats({ servers: config.natsUrl, name: `fault-driver-${config.id}` });
const receipts = await ReceiptStore.open(nc);
const guard = await createSpendGuard({ nc, gatewayId: config.id, logger, retryAfterMs: 50, receipts });
const sink = await createEventSink({ nc, receipts });

interface Sent {
  event: AdEvent;
  line: string;
}
const sent = new Map<string, Sent>();
const confirmed = new Set<string>();
/** Decision id -> the receipt batch it was stored in (group commit), as an event token would carry it. */
const receiptLocators = new Map<string, string>();
let confirmedImpressions = 0;
if (existsSync(config.log))
  for (const line of readFileSync(config.log, "utf8").split("\n").slice(0, -1)) {
    const [kind, eventId, decisionId, creativeId, , , type, occurredMs, batch] = line.split(" ");
    if (kind === "S" && eventId && decisionId && creativeId) {
      sent.set(eventId, { event: adEvent(eventId, decisionId, creativeId, Number(occurredMs), Number(type)), line });
      if (batch && batch !== "-") receiptLocators.set(decisionId, batch);
    }
    if (kind === "C" && eventId) confirmed.add(eventId);
  }
for (const id of confirmed) if (sent.get(id)?.event.type === AdEventType.IMPRESSION) confirmedImpressions++;

/** Sends until every event is stored (ACCEPTED or DUPLICATE); retries while the server is away. */
async function deliver(events: AdEvent[]): Promise<void> {
  for (;;) {
    try {
      const res = await sink.report(create(ReportEventsRequestSchema, { events }), receiptLocators);
      const lines: string[] = [];
      res.results.forEach((r, i) => {
        const e = events[i];
        if (!e) return;
        if (r.status === EventResult_Status.REJECTED) throw new Error(`event ${e.eventId} rejected: ${r.reason}`);
        if (confirmed.has(e.eventId)) return;
        confirmed.add(e.eventId);
        if (e.type === AdEventType.IMPRESSION) confirmedImpressions++;
        lines.push(`C ${e.eventId}\n`);
      });
      appendFileSync(config.log, lines.join(""));
      process.send?.({ type: "progress", confirmed: confirmedImpressions });
      return;
    } catch (err) {
      if (/rejected/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const unconfirmed = [...sent.values()].filter((s) => !confirmed.has(s.event.eventId)).map((s) => s.event);
for (let i = 0; i < unconfirmed.length; i += 500) await deliver(unconfirmed.slice(i, i + 500));

let counter = 0;
const run = `${config.id}-${process.pid}`;
let previous: AdEvent[] = [];
while (confirmedImpressions < config.events) {
  const batch: AdEvent[] = [];
  const lines: string[] = [];
  const want = Math.min(100, config.events - confirmedImpressions);
  const sales = await Promise.all(
    Array.from({ length: want }, async () => {
      const n = counter++;
      const campaignId = config.campaigns[n % config.campaigns.length] ?? "";
      const priceMicros = BigInt(100 + ((n * 7919) % 4_900));
      if (guard.headroom(campaignId) < priceMicros) return undefined;
      const decisionId = `${run}-${n}`;
      const items = await guard.commit(decisionId, [{ campaignId, creativeId: `${campaignId}-cr`, priceMicros }]);
      return items.length > 0 ? { n, decisionId, campaignId, priceMicros } : undefined;
    }),
  );
  for (const sale of sales) {
    if (!sale) continue;
    const now = Date.now();
    const batchId = receipts.locatorOf(sale.decisionId);
    if (batchId) receiptLocators.set(sale.decisionId, batchId);
    const add = (eventId: string, type: AdEventType) => {
      const event = adEvent(eventId, sale.decisionId, `${sale.campaignId}-cr`, now, type);
      batch.push(event);
      lines.push(
        `S ${eventId} ${sale.decisionId} ${sale.campaignId}-cr ${sale.campaignId} ${sale.priceMicros} ${type} ${now} ${batchId ?? "-"}\n`,
      );
    };
    add(`${sale.decisionId}-i`, AdEventType.IMPRESSION);
    if (sale.n % 3 === 0) add(`${sale.decisionId}-s`, AdEventType.START);
    // The same impression again under a new event id (a buggy client): stored once, charged once.
    if (sale.n % 10 === 0) add(`${sale.decisionId}-i2`, AdEventType.IMPRESSION);
  }
  if (batch.length === 0) {
    await new Promise((r) => setTimeout(r, 20));
    continue;
  }
  appendFileSync(config.log, lines.join(""));
  // Every fifth batch, the previous batch is sent again in front of it: a client retrying a whole request.
  await deliver(counter % 500 === 0 ? [...previous, ...batch].slice(-1000) : batch);
  previous = batch;
}
await nc.drain();
process.exit(0);
