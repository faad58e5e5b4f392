import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdEventType } from "../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../gen/chorus/v1/ledger_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import { badMessageCounts } from "../lib/nats/bad-messages.ts";
import { streams, subjects } from "../lib/subjects.ts";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { eventTypeToken } from "./event-rules.ts";
import { Ledger, QUARANTINE_HEADERS } from "./ledger.ts";
import { StreamConfigError } from "./ledger-streams.ts";
import { utcDay } from "./spend-totals.ts";

const log = createLogger("ledger-test", "silent");
const NOW = Date.now();

function entry(eventId: string, campaignId: string, chargeMicros: bigint, patch: { acceptedAt?: Timestamp } = {}) {
  return create(LedgerEntrySchema, {
    campaignId,
    chargeMicros,
    chargeDay: utcDay(NOW),
    event: {
      eventId,
      decisionId: `d-${eventId}`,
      creativeId: "cr",
      type: AdEventType.IMPRESSION,
      occurredAt: timestampFromMs(NOW),
    },
    ...patch,
  });
}

describe("ledger - messages it cannot apply", () => {
  let nats: NatsFixture;
  let ledger: Ledger;
  const publish = (campaignId: string, key: string, bytes: Uint8Array) =>
    nats.js.publish(subjects.adEvent(eventTypeToken(AdEventType.IMPRESSION), campaignId, [key]), bytes);

  beforeAll(async () => {
    nats = await startNats();
    ledger = await Ledger.start({ nc: await nats.connect("ledger"), log, flushEvery: 10 });
  });
  afterAll(async () => {
    await ledger?.stop();
    await nats?.cleanup();
  });

  it("quarantine - undecodable and out-of-range events are kept aside and counted; the totals stay exact", async () => {
    const before = badMessageCounts().get("ledger") ?? 0;
    await publish("camp", "e1", toBinary(LedgerEntrySchema, entry("e1", "camp", 1_000n)));
    await publish("camp", "garbage", new Uint8Array([0x0a, 0x7f, 0x01])); // length beyond the message
    await publish("camp", "huge", toBinary(LedgerEntrySchema, entry("huge", "camp", 2n ** 62n)));
    await publish(
      "camp",
      "far",
      toBinary(
        LedgerEntrySchema,
        entry("far", "camp", 5n, {
          acceptedAt: { $typeName: "google.protobuf.Timestamp", seconds: 2n ** 62n, nanos: 0 },
        }),
      ),
    );
    await publish("camp", "negative", toBinary(LedgerEntrySchema, entry("negative", "camp", -50n)));
    await publish("camp", "e2", toBinary(LedgerEntrySchema, entry("e2", "camp", 2_000n)));
    await ledger.caughtUp();
    const camp = ledger.query("camp").campaigns[0]!;
    expect([camp.spendMicros, camp.impressions]).toEqual([3_000n, 2n]);
    expect(ledger.quarantined).toBe(4);
    expect((badMessageCounts().get("ledger") ?? 0) - before).toBe(4);

    const jsm = await jetstreamManager(nats.nc);
    expect((await jsm.streams.info(streams.quarantine)).state.messages).toBe(4);
    const garbage = await jsm.streams.getMessage(streams.quarantine, { last_by_subj: subjects.quarantinedEvent(2) });
    expect(garbage?.header.get(QUARANTINE_HEADERS.sequence)).toBe("2");
    expect(garbage?.header.get(QUARANTINE_HEADERS.subject)).toContain("chorus.events.impression.camp.");
    expect(garbage?.header.get(QUARANTINE_HEADERS.reason)).toMatch(/^undecodable/);
    expect([...(garbage?.data ?? [])]).toEqual([0x0a, 0x7f, 0x01]);
    const huge = await jsm.streams.getMessage(streams.quarantine, { last_by_subj: subjects.quarantinedEvent(3) });
    expect(huge?.header.get(QUARANTINE_HEADERS.reason)).toContain("charge_micros");
    expect(fromBinary(LedgerEntrySchema, huge!.data).chargeMicros).toBe(2n ** 62n);

    // A restarted ledger resumes after them: nothing is quarantined or counted twice.
    await ledger.stop();
    ledger = await Ledger.start({ nc: await nats.connect("ledger-2"), log, flushEvery: 10 });
    await publish("camp", "e3", toBinary(LedgerEntrySchema, entry("e3", "camp", 500n)));
    await ledger.caughtUp();
    expect(ledger.query("camp").campaigns[0]!.spendMicros).toBe(3_500n);
    expect(ledger.quarantined).toBe(0);
    expect((await jsm.streams.info(streams.quarantine)).state.messages).toBe(4);
  });

  it("start - an events stream without what exactly-once rests on stops the ledger with what to fix", async () => {
    const other = await startNats();
    try {
      const jsm = await jetstreamManager(other.nc);
      await jsm.streams.add({
        name: streams.events,
        subjects: [subjects.adEventsAll],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        // The shape of an events stream before facts shared subjects: one message per subject, a 2-minute window.
        max_msgs_per_subject: 1,
        duplicate_window: nanos(120_000),
      });
      const err = await Ledger.start({ nc: await other.connect("ledger"), log }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StreamConfigError);
      const message = (err as Error).message;
      expect(message).toContain("CHORUS_EVENTS");
      expect(message).toContain("max_msgs_per_subject is 1, must be unlimited (-1)");
      expect(message).toContain("discard is old, must be new");
      expect(message).toContain("duplicate_window is 120000 ms, must be at least 960000 ms");
      expect(message).toContain("republish must send");
    } finally {
      await other.cleanup();
    }
  });
});
