import { create, toBinary, toJson } from "@bufbuild/protobuf";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AdEventType,
  EventRejection,
  EventResult_Status,
  ReportEventsRequestSchema,
} from "../gen/chorus/v1/decision_pb.ts";
import { LedgerSnapshotSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { createEventSink, factMessageId, type JetStreamEventSink } from "./event-sink.ts";
import { Ledger, queryLedger } from "./ledger.ts";
import { ensureLedgerStreams, openLedgerBucket } from "./ledger-streams.ts";
import { adEvent, receipt } from "./ledger-test-kit.ts";
import { rebuildLedger } from "./rebuild.ts";
import { ReceiptStore } from "./receipt-store.ts";
import { utcDay } from "./spend-totals.ts";

const log = createLogger("ledger-test", "silent");
const DAY1 = Date.UTC(2026, 10, 22, 23, 59, 0);
const DAY2 = Date.UTC(2026, 10, 23, 0, 1, 0);

describe("ledger", () => {
  let nats: NatsFixture;
  let sink: JetStreamEventSink;
  let receipts: ReceiptStore;
  let ledger: Ledger;
  let now = DAY1;
  const report = (...events: ReturnType<typeof adEvent>[]) =>
    sink.report(create(ReportEventsRequestSchema, { events }));

  beforeAll(async () => {
    nats = await startNats();
    await ensureLedgerStreams(await jetstreamManager(nats.nc));
    receipts = await ReceiptStore.open(nats.nc);
    // The gateway that sold: events find its receipts in memory (other gateways: receipt-store.spec.ts).
    sink = await createEventSink({ nc: await nats.connect("gateway"), clock: () => now, receipts });
    ledger = await Ledger.start({ nc: await nats.connect("ledger"), log, flushEvery: 50 });
    await receipts.put(
      receipt("d1", DAY1, [
        { campaignId: "camp-a", creativeId: "cr-1", priceMicros: 1_500n },
        { campaignId: "camp-b", creativeId: "cr-2", priceMicros: 2_000n },
      ]),
    );
    await receipts.put(receipt("d2", DAY2, [{ campaignId: "camp-a", creativeId: "cr-1", priceMicros: 700n }]));
  });
  afterAll(async () => {
    await ledger?.stop();
    await nats?.cleanup();
  });

  it("report - an accepted impression is charged at the receipt price, per campaign and per UTC day", async () => {
    const res = await report(adEvent("e1", "d1", "cr-1", DAY1), adEvent("e2", "d1", "cr-2", DAY1));
    expect(res.accepted).toBe(2);
    now = DAY2;
    expect((await report(adEvent("e3", "d2", "cr-1", DAY2))).accepted).toBe(1);
    await ledger.caughtUp();
    const a = ledger.query("camp-a").campaigns[0];
    expect(a?.spendMicros).toBe(2_200n);
    expect(a?.days.map((d) => [d.day, d.spendMicros])).toEqual([
      [utcDay(DAY1), 1_500n],
      [utcDay(DAY2), 700n],
    ]);
    expect(ledger.totals.spend("camp-b")).toBe(2_000n);
  });

  it("report - the same event twice, and a replayed batch, are counted once", async () => {
    const first = await report(adEvent("e4", "d1", "cr-1", DAY1, AdEventType.START));
    expect(first.results[0]?.status).toBe(EventResult_Status.ACCEPTED);
    const again = await report(adEvent("e4", "d1", "cr-1", DAY1, AdEventType.START));
    expect(again.results[0]?.status).toBe(EventResult_Status.DUPLICATE);
    const replay = await report(adEvent("e1", "d1", "cr-1", DAY1), adEvent("e2", "d1", "cr-2", DAY1));
    expect(replay.duplicates).toBe(2);
    await ledger.caughtUp();
    expect(ledger.totals.spend("camp-a")).toBe(2_200n);
  });

  it("report - a second impression of one ad under a new event id is refused; after its window a repeat is rejected, not stored", async () => {
    const res = await report(adEvent("e1", "d1", "cr-1", DAY1), adEvent("other-id", "d2", "cr-1", DAY2));
    expect(res.results.map((r) => r.status)).toEqual([EventResult_Status.DUPLICATE, EventResult_Status.DUPLICATE]);
    expect(res.results[1]?.reason).toMatch(/impression of this ad was counted before/);
    // Past the window the duplicate window no longer has to remember the fact: the event is refused by its age.
    now = DAY2 + 11 * 60_000;
    const late = await report(adEvent("e3-again", "d2", "cr-1", DAY2));
    expect(late.results[0]?.rejection).toBe(EventRejection.TIMESTAMP_OUT_OF_RANGE);
    expect(late.results[0]?.reason).toMatch(/impression reported 660 s after the decision; the limit is 600 s/);
    now = DAY2 + 16 * 60_000;
    const lateClick = await report(adEvent("click-late", "d2", "cr-1", DAY2, AdEventType.CLICK));
    expect(lateClick.results[0]?.rejection).toBe(EventRejection.TIMESTAMP_OUT_OF_RANGE);
    expect(lateClick.results[0]?.reason).toMatch(/click reported 960 s after the decision; the limit is 900 s/);
    now = DAY2;
    await ledger.caughtUp();
    expect(ledger.totals.spend("camp-a")).toBe(2_200n);
  });

  it("report - the stream's events share a few subjects per campaign (nats-server keeps every subject in memory)", async () => {
    const jsm = await jetstreamManager(nats.nc);
    const info = await jsm.streams.info("CHORUS_EVENTS", { subjects_filter: ">" });
    const subjectsHeld = Object.keys(info.state.subjects ?? {});
    expect(info.state.messages).toBeGreaterThan(subjectsHeld.length);
    // Impressions and starts of campaign a; conversions alone keep a subject per ad (decision, creative, slot).
    expect(subjectsHeld).toContain("chorus.events.impression.camp-a");
    expect(subjectsHeld.filter((s) => s.startsWith("chorus.events.impression."))).toHaveLength(2);
  });

  it("report - unknown decisions, foreign creatives and impossible values are rejected with reasons", async () => {
    const res = await report(
      adEvent("r1", "nope", "cr-1", DAY2),
      adEvent("r2", "d2", "cr-9", DAY2),
      adEvent("r3", "d2", "cr-1", DAY2 + 3_600_000),
      adEvent("r4", "d2", "cr-1", DAY2, AdEventType.CLICK, 5n),
      adEvent("r5", "d2", "cr-1", DAY2, AdEventType.CLICK, -1n),
      adEvent("r6", "d1", "cr-2", DAY1, AdEventType.CONVERSION, 10n),
    );
    expect(res.results.map((r) => r.rejection)).toEqual([
      EventRejection.UNKNOWN_DECISION,
      EventRejection.CREATIVE_NOT_IN_DECISION,
      EventRejection.TIMESTAMP_OUT_OF_RANGE,
      EventRejection.IMPOSSIBLE_VALUE,
      EventRejection.IMPOSSIBLE_VALUE,
      EventRejection.UNSPECIFIED,
    ]);
    expect(res.results[0]?.reason).toMatch(/decision_id: "nope"/);
    expect(res.results[2]?.reason).toMatch(/occurred_at: 3600 s in the future/);
    expect(res.results[3]?.reason).toMatch(/value_micros/);
    expect(res.results[5]?.status).toBe(EventResult_Status.ACCEPTED); // cr-2 of d1 was impressed
    expect(res.rejected).toBe(5);
  });

  it("report - a follow-up or conversion is judged by its own receipt and window, not by a lookup of the impression", async () => {
    await receipts.put(receipt("d3", DAY2, [{ campaignId: "camp-a", creativeId: "cr-1", priceMicros: 900n }]));
    const noImpression = await report(adEvent("c1", "d3", "cr-1", DAY2, AdEventType.CONVERSION, 10n));
    expect(noImpression.results[0]?.status).toBe(EventResult_Status.ACCEPTED);
    await ledger.caughtUp();
    expect(ledger.totals.spend("camp-a")).toBe(2_200n);
  });

  it("report - one conversion per ad by default, value at most the maximum: later ones are refused, the ledger unchanged", async () => {
    // r6 (above) was d1/cr-2's conversion: a second one, with a new event id, is past the limit.
    await ledger.caughtUp();
    const before = JSON.stringify(toJson(LedgerSnapshotSchema, ledger.query()));
    const again = await report(adEvent("r6-second", "d1", "cr-2", DAY1, AdEventType.CONVERSION, 10n));
    expect(again.results[0]).toMatchObject({
      status: EventResult_Status.REJECTED,
      rejection: EventRejection.CONVERSION_LIMIT,
    });
    // The very same event again is a duplicate, not a second conversion.
    const retried = await report(adEvent("r6", "d1", "cr-2", DAY1, AdEventType.CONVERSION, 10n));
    expect(retried.results[0]?.status).toBe(EventResult_Status.DUPLICATE);
    const huge = await report(adEvent("big", "d1", "cr-1", DAY1, AdEventType.CONVERSION, 5_000_000_000n));
    expect(huge.results[0]).toMatchObject({ rejection: EventRejection.IMPOSSIBLE_VALUE });
    expect(huge.results[0]?.reason).toMatch(/maximum conversion value of 1000000000/);
    await ledger.caughtUp();
    expect(JSON.stringify(toJson(LedgerSnapshotSchema, ledger.query()))).toBe(before);
  });

  it("ledger - rebuild from the stream equals the live totals, and the NATS query answers the same", async () => {
    await ledger.caughtUp();
    const rebuilt = await rebuildLedger(nats.nc);
    const live = ledger.query();
    expect(toJson(LedgerSnapshotSchema, rebuilt.toSnapshot())).toEqual(toJson(LedgerSnapshotSchema, live));
    const remote = await queryLedger(nats.nc, "camp-a");
    expect(remote.campaigns[0]?.spendMicros).toBe(2_200n);
  });

  it("ledger - a snapshot written underneath it (a killed predecessor's last write) is reloaded, not overwritten", async () => {
    await ledger.caughtUp();
    const kv = await openLedgerBucket(await jetstreamManager(nats.nc));
    // The predecessor's write: the totals as of now, stored after this instance read the snapshot.
    await kv.put("snapshot", toBinary(LedgerSnapshotSchema, (await rebuildLedger(nats.nc)).toSnapshot()));
    await receipts.put(receipt("d5", DAY2, [{ campaignId: "camp-b", creativeId: "cr-2", priceMicros: 5n }]));
    await report(adEvent("e10", "d5", "cr-2", DAY2));
    await ledger.caughtUp();
    expect(ledger.totals.spend("camp-b")).toBe(2_005n);
    expect(toJson(LedgerSnapshotSchema, ledger.query())).toEqual(
      toJson(LedgerSnapshotSchema, (await rebuildLedger(nats.nc)).toSnapshot()),
    );
  });

  it("ledger - a restarted ledger resumes from its snapshot without counting anything twice", async () => {
    await ledger.stop();
    now = DAY2;
    await receipts.put(receipt("d4", DAY2, [{ campaignId: "camp-b", creativeId: "cr-2", priceMicros: 333n }]));
    await report(adEvent("e9", "d4", "cr-2", DAY2));
    ledger = await Ledger.start({ nc: await nats.connect("ledger-2"), log });
    await ledger.caughtUp();
    expect(ledger.totals.spend("camp-b")).toBe(2_338n);
    expect(toJson(LedgerSnapshotSchema, (await rebuildLedger(nats.nc)).toSnapshot())).toEqual(
      toJson(LedgerSnapshotSchema, ledger.query()),
    );
  });

  it("report - a client cannot block another ad's fact by choosing its id as an event id (ids are namespaced)", async () => {
    await receipts.put(
      receipt("d6", DAY2, [
        { campaignId: "camp-c", creativeId: "cr-1", priceMicros: 10n },
        { campaignId: "camp-c", creativeId: "cr-2", priceMicros: 10n },
      ]),
    );
    const impression = adEvent("i-d6", "d6", "cr-1", DAY2);
    const conversion = adEvent(factMessageId(impression), "d6", "cr-2", DAY2, AdEventType.CONVERSION, 5n);
    expect((await report(conversion)).accepted).toBe(1);
    expect((await report(impression)).results[0]?.status).toBe(EventResult_Status.ACCEPTED);
  });
});
