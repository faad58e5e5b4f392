import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionKeepReason, DecisionRecordSchema } from "../gen/chorus/v1/decision_log_pb.ts";
import { Pseudonyms } from "../lib/privacy/pseudonyms.ts";
import { buckets, streams, subjects } from "../lib/subjects.ts";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import {
  DecisionLog,
  type DecisionLogConfig,
  DecisionNotFoundError,
  ensureDecisionStore,
  keepReason,
  loadDecisionLogConfig,
  pseudonymize,
  readDecisionRecord,
} from "./decision-log.ts";
import { inventoryPart, kernelCallOf, kernelResultOf, snapshotKernelRequest } from "./kernel-record.ts";
import { createChorusMetrics } from "./metrics.ts";
import { SAMPLE_USER_ID, sampleDecision } from "./testing/sample-decision.ts";

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

describe("decision log", () => {
  let nats: NatsFixture;
  // The gateway's bus pseudonyms and the log's own key, derived as serve-gateway.ts does.
  const bus = new Pseudonyms("decision-log-spec-bus-key");
  const salt = bus.decisionLogKey();
  const config = (env: Record<string, string> = {}): DecisionLogConfig =>
    loadDecisionLogConfig({ DECISION_LOG_SAMPLE_RATE: "1", ...env });
  const open = (cfg: DecisionLogConfig, metrics = createChorusMetrics()) =>
    DecisionLog.open(nats.nc, nats.js, {
      config: cfg,
      metrics,
      logger: pino({ level: "silent" }),
      gateway: "spec",
      pseudonymKey: salt,
    });

  beforeAll(async () => {
    // The gateway writes the log, held to its own bus permissions; readers (explain, replay) are the operator.
    // The operator lays out the stream and object store (npm start's launcher, `chorus bus setup`).
    nats = await startNats({
      permissions: "gateway",
      setup: (operator) => ensureDecisionStore(operator, jetstream(operator), config()),
    });
  });
  afterAll(() => nats.cleanup());

  it("decision log - a decision reads back by id with bit-exact kernel inputs and outputs", async () => {
    const log = await open(config());
    const entry = await sampleDecision({ seed: 1 });
    expect(log.append(entry)).toBe(DecisionKeepReason.SAMPLED);
    await log.flush();
    const reader = await nats.connect("reader", "operator");
    const record = await readDecisionRecord(reader, entry.decisionId);
    expect(record.decisionId).toBe(entry.decisionId);
    expect(record.agents.map((a) => a.agent)).toEqual(entry.kernel.agents);
    const call = kernelCallOf(record.kernelInputs!);
    expect(bits(call.inventory.embeddings)).toEqual(bits(entry.kernel.inventory.embeddings));
    expect(bits(call.request.scores)).toEqual(bits(entry.kernel.request.scores));
    expect(bits(call.request.intent)).toEqual(bits(entry.kernel.request.intent));
    expect(Array.from(call.request.vetoMask)).toEqual(Array.from(entry.kernel.request.vetoMask));
    const result = kernelResultOf(record.kernelResult!, call.inventory.version);
    expect(bits(result.prices)).toEqual(bits(entry.kernelResult!.prices));
    expect(bits(result.contributions)).toEqual(bits(entry.kernelResult!.contributions));
    expect(Array.from(result.indices)).toEqual(Array.from(entry.kernelResult!.indices));
    expect(record.response?.ads.map((a) => a.creativeId)).toEqual(entry.response.ads.map((a) => a.creativeId));
  });

  it("decision log - an inventory is stored once in its own bucket; records only name it", async () => {
    const log = await open(config());
    const first = await sampleDecision({ seed: 9 });
    // A second decision on the same inventory (the engine reuses the inventory's arrays and id lists).
    const second = {
      ...first,
      decisionId: "dec-9-second",
      kernel: { ...first.kernel, request: snapshotKernelRequest(first.kernel.request) },
    };
    expect(inventoryPart(second.kernel)).toBe(inventoryPart(first.kernel));
    const objects = await new Objm(nats.js).open(buckets.decisionInventories);
    const names = async () => (await objects.list()).map((o) => o.name).sort();
    const before = await names();
    log.append(first);
    await log.flush();
    const after = await names();
    expect(after).toContain(inventoryPart(first.kernel).name);
    log.append(second);
    await log.flush();
    expect(await names()).toEqual(after);
    expect(after.length).toBeLessThanOrEqual(before.length + 1);
    const jsm = await jetstreamManager(nats.nc);
    const wire = await jsm.direct.getMessage(streams.decisions, {
      last_by_subj: subjects.decisionRecord("dec-9-second"),
    });
    const raw = fromBinary(DecisionRecordSchema, wire!.data).kernelInputs!;
    expect(raw.inventoryObject).toBe(inventoryPart(first.kernel).name);
    expect([raw.embeddings.byteLength, raw.creativeIds.length]).toEqual([0, 0]);
    expect(raw.scores.byteLength).toBe(first.kernel.request.scores.byteLength);
    // Gone from the bucket (expired): reading names the missing inventory.
    await objects.delete(inventoryPart(first.kernel).name);
    await expect(readDecisionRecord(nats.nc, first.decisionId)).rejects.toThrow(
      /its inventory 42-[0-9a-f]{16} is no longer in chorus_decision_inventories/,
    );
  });

  it("decision log - the record holds pseudonyms only, never the raw user or session id", async () => {
    const log = await open(config());
    const entry = await sampleDecision({ seed: 2 });
    log.append(entry);
    await log.flush();
    const record = await readDecisionRecord(nats.nc, entry.decisionId);
    expect(record.request?.user?.userId).toBe(pseudonymize(SAMPLE_USER_ID, salt));
    expect(record.request?.user?.userId).toMatch(/^[0-9a-f]{32}$/);
    const wire = Buffer.from(toBinary(DecisionRecordSchema, record));
    expect(wire.includes(SAMPLE_USER_ID)).toBe(false);
    expect(wire.includes(entry.request.context!.sessionId)).toBe(false);
    // The caller's request is left as it was.
    expect(entry.request.user?.userId).toBe(SAMPLE_USER_ID);
    expect(pseudonymize(SAMPLE_USER_ID, "other-salt")).not.toBe(record.request?.user?.userId);
  });

  it("decision log - its pseudonyms are its own: a record cannot be joined with bus data by id", async () => {
    const log = await open(config());
    const entry = await sampleDecision({ seed: 71 });
    // What the gateway hands the log: the request as it travels on the bus, ids already bus pseudonyms.
    const onBus = { user: bus.user("listener-7"), session: bus.session("session-7") };
    entry.request.user!.userId = onBus.user;
    entry.request.context!.sessionId = onBus.session;
    log.append(entry);
    await log.flush();
    const record = await readDecisionRecord(nats.nc, entry.decisionId);
    const logged = [record.request?.user?.userId, record.request?.context?.sessionId];
    // Neither the bus pseudonym nor any id the bus key makes of the raw ids appears in the record...
    const busIds = [onBus.user, onBus.session, bus.listener("listener-7", "session-7", false)];
    const wire = Buffer.from(toBinary(DecisionRecordSchema, record));
    for (const id of busIds) {
      expect(logged).not.toContain(id);
      expect(wire.includes(id)).toBe(false);
    }
    // ...nor is the log's key the bus key: the same raw id gives different pseudonyms under the two.
    expect(salt).not.toBe("decision-log-spec-bus-key");
    expect(pseudonymize(onBus.user, "decision-log-spec-bus-key")).not.toBe(logged[0]);
    // The holder of the bus key (`chorus users forget`) still finds the listener's records.
    expect(logged[0]).toBe(pseudonymize(onBus.user, bus.decisionLogKey()));
    expect(logged[1]).toBe(pseudonymize(onBus.session, bus.decisionLogKey()));
  });

  it("decision log - sampling leaves plain decisions out but keeps explained and degraded ones", async () => {
    const metrics = createChorusMetrics();
    const log = await open(config({ DECISION_LOG_SAMPLE_RATE: "0" }), metrics);
    const plain = await sampleDecision({ seed: 3 });
    const explained = await sampleDecision({ seed: 4, explain: true });
    const degraded = await sampleDecision({ seed: 5, degradedAgent: "bidding" });
    expect(log.append(plain)).toBeUndefined();
    expect(log.append(explained)).toBe(DecisionKeepReason.EXPLAIN);
    expect(log.append(degraded)).toBe(DecisionKeepReason.DEGRADED);
    await log.flush();
    await expect(readDecisionRecord(nats.nc, plain.decisionId)).rejects.toBeInstanceOf(DecisionNotFoundError);
    expect((await readDecisionRecord(nats.nc, degraded.decisionId)).keepReason).toBe(DecisionKeepReason.DEGRADED);
    const counts = (await metrics.decisionLogRecords.get()).values;
    expect(counts.find((v) => v.labels.result === "sampled_out")?.value).toBe(1);
    expect(counts.find((v) => v.labels.result === "published")?.value).toBe(2);
    expect(keepReason(degraded, { sampleRate: 0, keepNotable: false })).toBeUndefined();
    expect(keepReason(plain, { sampleRate: 1, keepNotable: false })).toBe(DecisionKeepReason.SAMPLED);
  });

  it("decision log - notable records beyond the sample are capped per second, sampled ones are not", async () => {
    // An agent outage degrades every decision; the log must not record them all (a record costs more than a decision).
    const metrics = createChorusMetrics();
    const log = await open(config({ DECISION_LOG_SAMPLE_RATE: "0", DECISION_LOG_NOTABLE_PER_S: "3" }), metrics);
    const degraded = await Promise.all(
      [10, 11, 12, 13, 14].map((seed) => sampleDecision({ seed, degradedAgent: "timing" })),
    );
    const kept = degraded.map((e) => log.append(e));
    expect(kept).toEqual([...Array(3).fill(DecisionKeepReason.DEGRADED), undefined, undefined]);
    await log.flush();
    const counts = (await metrics.decisionLogRecords.get()).values;
    expect(counts.find((v) => v.labels.result === "dropped_notable_rate")?.value).toBe(2);
    // The bucket refills with time: a second later there is room again.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(log.append(await sampleDecision({ seed: 15, degradedAgent: "timing" }))).toBe(DecisionKeepReason.DEGRADED);
    // Sampled decisions are bounded by the sample rate itself, not by the notable budget.
    const sampledLog = await open(config({ DECISION_LOG_NOTABLE_PER_S: "0" }));
    expect(sampledLog.append(await sampleDecision({ seed: 16 }))).toBe(DecisionKeepReason.SAMPLED);
    await Promise.all([log.flush(), sampledLog.flush()]);
  });

  it("decision log - a full buffer drops and counts records instead of blocking the caller", async () => {
    const metrics = createChorusMetrics();
    const log = await open(config({ DECISION_LOG_MAX_PENDING: "1" }), metrics);
    const entries = await Promise.all([6, 7, 8].map((seed) => sampleDecision({ seed })));
    const kept = entries.map((e) => log.append(e));
    expect(kept).toEqual([DecisionKeepReason.SAMPLED, undefined, undefined]);
    expect(log.pending).toBe(1);
    await log.flush();
    expect(log.pending).toBe(0);
    const dropped = (await metrics.decisionLogRecords.get()).values.find(
      (v) => v.labels.result === "dropped_buffer_full",
    );
    expect(dropped?.value).toBe(2);
  });

  it("decision log - the stream is bounded by age and size and keeps one record per decision", async () => {
    const limits = config({ DECISION_LOG_MAX_AGE_S: "3600", DECISION_LOG_MAX_BYTES: String(64 * 1024 * 1024) });
    // Only the operator changes a stream: a gateway configured with other limits says what to run.
    await expect(open(limits)).rejects.toThrow(/chorus bus setup/);
    const operator = await nats.connect("setup-limits", "operator");
    await ensureDecisionStore(operator, jetstream(operator), limits);
    await open(limits);
    const info = await (await jetstreamManager(nats.nc)).streams.info(streams.decisions);
    expect(info.config.max_age).toBe(3600 * 1e9);
    expect(info.config.max_bytes).toBe(64 * 1024 * 1024);
    expect(info.config.max_msgs_per_subject).toBe(1);
    expect(info.config.allow_direct).toBe(true);
    expect((await (await new Objm(nats.js).open(buckets.decisionInventories)).status()).ttl).toBe(3600 * 1e9);
  });

  it("decision log - an unknown decision id is reported by name", async () => {
    await expect(readDecisionRecord(nats.nc, "no-such-decision")).rejects.toThrow(/no-such-decision/);
  });

  it("decision log - bad configuration names the variable", () => {
    expect(() => loadDecisionLogConfig({ DECISION_LOG_SAMPLE_RATE: "1.5" })).toThrow(/DECISION_LOG_SAMPLE_RATE/);
  });
});
