import { create } from "@bufbuild/protobuf";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventRejection, ReportEventsRequestSchema } from "../gen/chorus/v1/decision_pb.ts";
import { streams, subjects } from "../lib/subjects.ts";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { createEventSink } from "./event-sink.ts";
import { ensureLedgerStreams } from "./ledger-streams.ts";
import { adEvent, receipt } from "./ledger-test-kit.ts";
import { receiptBatchId } from "./receipt-batch-id.ts";
import { ReceiptStore } from "./receipt-store.ts";

const sold = (decisionId: string, campaignId = "c", priceMicros = 100n) =>
  receipt(decisionId, Date.now(), [{ campaignId, creativeId: `${campaignId}-cr`, priceMicros, leaseId: "l-1" }]);

describe("receipt store (group commit)", () => {
  let nats: NatsFixture;
  const messages = async () => (await (await jetstreamManager(nats.nc)).streams.info(streams.receipts)).state.messages;

  beforeAll(async () => {
    // Gateways store and read receipts, held to their own bus permissions; the operator creates the streams.
    nats = await startNats({
      permissions: "gateway",
      setup: async (operator) => ensureLedgerStreams(await jetstreamManager(operator)),
    });
  });
  afterAll(() => nats.cleanup());

  it("one receipt with nothing in flight is stored alone on the log, and any store finds it by the locator its token carries", async () => {
    const store = await ReceiptStore.open(await nats.connect("gw-a"));
    const before = await messages();
    await store.put(sold("alone-1"));
    expect(store.publishes).toBe(1);
    expect(store.locatorOf("alone-1")).toBe(`s${before + 1}`);
    expect(await messages()).toBe(before + 1);
    const other = await ReceiptStore.open(await nats.connect("gw-b"), { cacheSize: 0 });
    // The log holds it, not a subject of its own: without the locator another gateway does not find it.
    expect(await other.get("alone-1")).toBeUndefined();
    expect((await other.get("alone-1", store.locatorOf("alone-1")))?.items[0]?.priceMicros).toBe(100n);
  });

  it("receipts put while a publish waits for its ack go out as one batch; each put resolves only once it is stored; another gateway finds each through its locator", async () => {
    const store = await ReceiptStore.open(await nats.connect("gw-c"));
    const before = await messages();
    const ids = Array.from({ length: 60 }, (_, i) => `grouped-${i}`);
    const stored = new Set<string>();
    let resolvedUnstored = 0;
    const put = (id: string, i: number) =>
      store.put(sold(id, "c", BigInt(100 + i))).then(async () => {
        stored.add(id);
        // Resolved means acknowledged: the message holding it is in the stream already.
        if ((await messages()) === before) resolvedUnstored++;
      });
    // The first goes out alone in its turn; the others, put while it waits for its ack, go out together after it.
    const lead = put(ids[0]!, 0);
    await new Promise((r) => setImmediate(r));
    await Promise.all([lead, ...ids.slice(1).map((id, i) => put(id, i + 1))]);
    expect(stored.size).toBe(60);
    expect(resolvedUnstored).toBe(0);
    expect(store.publishes).toBe(2);
    expect(await messages()).toBe(before + 2);
    expect(store.locatorOf(ids[0]!)).toBe(`s${before + 1}`);
    const batched = ids.slice(1);
    expect(new Set(batched.map((id) => store.locatorOf(id)))).toEqual(new Set([`s${before + 2}`]));

    const other = await ReceiptStore.open(await nats.connect("gw-d"), { cacheSize: 0 });
    for (const id of batched) {
      expect(await other.get(id)).toBeUndefined();
      const found = await other.get(id, store.locatorOf(id));
      expect(found?.decisionId).toBe(id);
      expect(found?.items[0]?.priceMicros).toBe(BigInt(100 + ids.indexOf(id)));
    }
    // A locator naming a message without the decision, no message, or nothing a locator can be, finds nothing.
    expect(await other.get(batched[0]!, store.locatorOf(ids[0]!))).toBeUndefined();
    expect(await other.get(batched[0]!, `s${before + 1_000}`)).toBeUndefined();
    expect(await other.get(batched[0]!, receiptBatchId([sold("unrelated")]))).toBeUndefined();
    expect(await other.get(batched[0]!, "not a subject token")).toBeUndefined();
  });

  it("a batch stored again (a retry after a lost ack, or its receipts grouped the same way by another process) is stored once", async () => {
    const first = await ReceiptStore.open(await nats.connect("gw-e"));
    const again = await ReceiptStore.open(await nats.connect("gw-f"));
    const group = ["retry-0", "retry-1", "retry-2", "retry-3"].map((id) => sold(id));
    // Put in one turn of the event loop, they go out as one batch from either store.
    await Promise.all(group.map((r) => first.put(r)));
    const locator = first.locatorOf("retry-0");
    const before = await messages();
    await Promise.all(group.map((r) => again.put(r)));
    // The duplicate's ack names the copy stored first.
    expect(again.locatorOf("retry-0")).toBe(locator);
    expect(await messages()).toBe(before);
  });

  it("a spooled receipt is stored once on its decision's own subject, where any store finds it without a locator", async () => {
    const seller = await ReceiptStore.open(await nats.connect("gw-spool"));
    const receipt = sold("spooled-1");
    // Stored on the log as well (a publish whose ack was lost before the gateway spooled it): both copies kept.
    await seller.put(receipt);
    const before = await messages();
    await seller.putOnOwnSubject(receipt);
    await seller.putOnOwnSubject(receipt);
    expect(await messages()).toBe(before + 1);
    const other = await ReceiptStore.open(await nats.connect("gw-spool-other"), { cacheSize: 0 });
    expect((await other.get("spooled-1"))?.decisionId).toBe("spooled-1");
  });

  it("the stream keeps a few subjects however many receipts it holds (nats-server keeps each subject in memory)", async () => {
    const info = await (await jetstreamManager(nats.nc)).streams.info(streams.receipts, { subjects_filter: ">" });
    expect(info.state.messages).toBeGreaterThanOrEqual(6);
    expect(Object.keys(info.state.subjects ?? {}).sort()).toEqual(
      ["chorus.receipts.log.batch", "chorus.receipts.log.one", subjects.receipt("spooled-1")].sort(),
    );
  });

  it("an impression of a batched decision reported at another gateway is accepted with the locator its token names, and refused as unknown without it", async () => {
    const seller = await ReceiptStore.open(await nats.connect("gw-seller"));
    const group = ["event-0", "event-1", "event-2"].map((id) => sold(id));
    await Promise.all(group.map((r) => seller.put(r)));
    const locator = seller.locatorOf("event-1");
    expect(locator).toMatch(/^s\d+$/);
    const sink = await createEventSink({
      nc: await nats.connect("gw-other"),
      receipts: await ReceiptStore.open(await nats.connect("gw-other-receipts"), { cacheSize: 0 }),
    });
    const report = (eventId: string, locators?: Map<string, string>) =>
      sink.report(
        create(ReportEventsRequestSchema, { events: [adEvent(eventId, "event-1", "c-cr", Date.now())] }),
        locators,
      );
    expect((await report("imp-unknown")).results[0]?.rejection).toBe(EventRejection.UNKNOWN_DECISION);
    const accepted = await report("imp-batched", new Map([["event-1", locator!]]));
    expect(accepted.accepted).toBe(1);
  });
});
