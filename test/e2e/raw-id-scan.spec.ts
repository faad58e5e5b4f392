/**
 * Raw listener ids never reach the bus: a mesh runs with decisions, ad events and playback for listeners with
 * distinctive ids, while a full-rights test identity records every message on `>`; then every stream and bucket
 * (KV and object stores are streams) is read back message by message, and the JetStream files on disk are read
 * too. Neither the raw user and session ids nor their subject-token forms appear anywhere.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import {
  type AdEvent,
  AdEventSchema,
  AdEventType,
  DecideRequestSchema,
  DecisionService,
  EventResult_Status,
  PlaybackSignalSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { Mesh } from "../../launch/mesh.ts";
import { queryLedger } from "../../ledger/ledger.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { pseudonymsFromEnv } from "../../lib/privacy/pseudonym-key.ts";
import { subjectToken } from "../../lib/subjects.ts";
import { pseudonymize } from "../../telemetry/decision-record.ts";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

const tag = randomBytes(6).toString("hex");
/** Request ids are not personal (the decision log keeps them): they must not share the ids' stem. */
const requestTag = randomBytes(6).toString("hex");
const LISTENERS = Array.from({ length: 6 }, (_, i) => ({
  userId: `rawscan-user-${tag}-${i}`,
  sessionId: `rawscan-session-${tag}-${i}`,
}));
/** Every form a raw id could take on the bus: as text, and as the base64url subject token lib/subjects.ts makes. */
const NEEDLES = LISTENERS.flatMap(({ userId, sessionId }) => [
  userId,
  sessionId,
  subjectToken(userId),
  subjectToken(sessionId),
]).map((s) => Buffer.from(s));
/** The shared part of every raw id: a hit on this finds even a truncated or embedded copy. */
const STEM = Buffer.from(`-${tag}-`);

function leaks(bytes: Uint8Array | undefined): string[] {
  if (!bytes || bytes.length === 0) return [];
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = NEEDLES.filter((n) => b.includes(n)).map((n) => n.toString());
  if (b.includes(STEM)) found.push(`…${STEM.toString()}…`);
  return found;
}

describe("raw-id scan - no raw listener id anywhere on the bus or in JetStream", () => {
  let mesh: Mesh;
  let spy: NatsConnection;
  const seen: { subject: string; leaks: string[] }[] = [];
  let messages = 0;

  beforeAll(async () => {
    // Every decision is logged (the decision log keeps requests): the most a raw id could travel.
    mesh = await startMeshOnFreePorts(async (port) => ({
      gatewayPort: await port(),
      silent: true,
      demo: true,
      inspector: true,
      env: { DECISION_LOG_SAMPLE_RATE: "1" },
      readyTimeoutMs: 60_000,
    }));
    spy = await mesh.connect("raw-id-spy", "inspector");
    spy.subscribe(">", {
      callback: (_err, m) => {
        messages++;
        const found = [
          ...leaks(new TextEncoder().encode(m.subject)),
          ...leaks(m.data),
          ...leaks(m.headers ? new TextEncoder().encode(m.headers.toString()) : undefined),
        ];
        if (found.length) seen.push({ subject: m.subject, leaks: found });
      },
    });
    await spy.flush();
  }, 180_000);
  afterAll(async () => {
    await spy?.close();
    await mesh?.stop();
  }, 30_000);

  /** Impressions reported per listener index (the erasure test reports one again). */
  const impressions = new Map<number, AdEvent[]>();
  let client: Client<typeof DecisionService>;

  it("serves decisions, events and playback for listeners with distinctive ids", async () => {
    client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    );
    let filled = 0;
    for (const [i, { userId, sessionId }] of LISTENERS.entries()) {
      const consent = { personalizedAds: true, measurement: i % 3 !== 2 };
      for (let n = 0; n < 3; n++) {
        const response = await client.decide(
          create(DecideRequestSchema, {
            requestId: `req-${requestTag}-${i}-${n}`,
            explain: n === 0,
            placement: {
              breakKind: BreakKind.MID_ROLL,
              maxDurationMs: 60_000,
              maxAds: 3,
              allowedFormats: [AdFormat.AUDIO],
            },
            user: { userId, consent, geo: { country: "DE" } },
            device: { type: DeviceType.PHONE, screenOn: false, foreground: false, touch: true },
            context: {
              sessionId,
              contentKind: ContentKind.MUSIC,
              genre: "rock",
              positionMs: 0,
              contentDurationMs: 180_000,
            },
          }),
        );
        const ad = response.ads[0];
        if (!ad) continue;
        filled++;
        const event = create(AdEventSchema, {
          eventId: `imp-${response.decisionId}`,
          decisionId: response.decisionId,
          creativeId: ad.creativeId,
          eventToken: ad.eventToken,
          type: AdEventType.IMPRESSION,
          occurredAt: timestampNow(),
        });
        const result = await client.reportEvents({ events: [event] });
        expect(result.results[0]!.status).toBe(EventResult_Status.ACCEPTED);
        impressions.set(i, [...(impressions.get(i) ?? []), event]);
      }
      const played = await client.reportPlayback({
        signals: [
          create(PlaybackSignalSchema, {
            sessionId,
            userId,
            at: timestampNow(),
            consent,
            kind: {
              case: "contentStart",
              value: { contentKind: ContentKind.MUSIC, genre: "rock", durationMs: 180_000 },
            },
          }),
        ],
      });
      expect(played.accepted).toBe(1);
    }
    expect(filled, "the demo campaigns fill some of these pods").toBeGreaterThan(0);
    // Agents publish signals and save snapshots within a couple of seconds; give them time to do both.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(messages).toBeGreaterThan(50);
  }, 90_000);

  it("found no raw id in any message seen on > (and the scan does see one that is there)", async () => {
    // Control: a raw id published by the test itself is found, so the scan is not blind.
    spy.publish("rawscan.control", new TextEncoder().encode(`{"user":"${LISTENERS[0]!.userId}"}`));
    await spy.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((s) => s.subject === "rawscan.control")).toHaveLength(1);
    expect(seen.filter((s) => s.subject !== "rawscan.control")).toEqual([]);
  });

  /** Reads every stored message of every stream (KV buckets and object stores are streams too). */
  async function eachStored(visit: (stream: string, m: JsMsg) => void): Promise<string[]> {
    const jsm = await jetstreamManager(spy);
    const js = jetstream(spy);
    const names: string[] = [];
    for await (const info of jsm.streams.list()) names.push(info.config.name);
    for (const name of names) {
      const { state } = await jsm.streams.info(name);
      if (state.messages === 0) continue;
      const consumer = await js.consumers.get(name, { deliver_policy: DeliverPolicy.All });
      const messages = await consumer.fetch({ max_messages: state.messages, expires: 5_000 });
      for await (const m of messages) {
        visit(name, m);
        if (m.info.pending === 0) break;
      }
    }
    return names;
  }

  it("finds no raw id in any stored message of any stream, KV bucket or object store", async () => {
    const found: { stream: string; seq: number; subject: string; leaks: string[] }[] = [];
    let stored = 0;
    const names = await eachStored((name, m) => {
      stored++;
      const hits = [...leaks(new TextEncoder().encode(m.subject)), ...leaks(m.data)];
      if (m.headers) hits.push(...leaks(new TextEncoder().encode(m.headers.toString())));
      if (hits.length) found.push({ stream: name, seq: m.seq, subject: m.subject, leaks: hits });
    });
    expect(names).toEqual(expect.arrayContaining(["CHORUS_EVENTS", "CHORUS_RECEIPTS", "KV_chorus_agent_state"]));
    console.log(`raw-id scan: ${messages} live messages on >, ${stored} stored messages in ${names.length} streams`);
    expect(stored).toBeGreaterThan(20);
    expect(found).toEqual([]);
  }, 60_000);

  it("finds no raw id in the JetStream files on disk", () => {
    const store = join(mesh.nats!.storeDir, "jetstream");
    const hits: string[] = [];
    let files = 0;
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else {
          files++;
          const found = leaks(readFileSync(path));
          if (found.length) hits.push(`${path}: ${found.join(", ")}`);
        }
      }
    };
    walk(store);
    console.log(`raw-id scan: ${files} JetStream files on disk`);
    expect(files).toBeGreaterThan(10);
    expect(hits).toEqual([]);
  });

  /** `stream` names holding one of `ids` (as bytes, in the subject or the data). */
  async function holders(ids: readonly string[]): Promise<string[]> {
    const needles = ids.map((id) => Buffer.from(id));
    const found = new Set<string>();
    await eachStored((stream, m) => {
      const data = Buffer.from(m.data);
      if (needles.some((n) => data.includes(n) || m.subject.includes(n.toString()))) found.add(stream);
    });
    return [...found].sort();
  }

  it("consent: listeners without measurement consent have no profile or cap history: their user pseudonym is stored nowhere", async () => {
    const pseudonyms = pseudonymsFromEnv(mesh.pseudonymEnv);
    const without = LISTENERS.filter((_, i) => i % 3 === 2);
    const withConsent = LISTENERS.filter((_, i) => i % 3 !== 2);
    expect(await holders(without.map((l) => pseudonyms.user(l.userId)))).toEqual([]);
    // The control: listeners with consent are known by their user pseudonym (profiles, receipts, events).
    expect(await holders(withConsent.map((l) => pseudonyms.user(l.userId)))).toEqual(
      expect.arrayContaining(["KV_chorus_agent_state"]),
    );
  }, 60_000);

  it("chorus users forget <user-id> erases a listener everywhere; totals stay exact and decisions go on", async () => {
    const pseudonyms = pseudonymsFromEnv(mesh.pseudonymEnv);
    // The listener to erase: one with measurement consent whose pods were filled (the demo fills some), and another
    // with consent, which must stay as it was.
    const targetIndex = [...impressions.keys()].find((i) => i % 3 !== 2);
    expect(targetIndex, "a listener with measurement consent saw ads").toBeDefined();
    const target = LISTENERS[targetIndex!]!;
    const other = LISTENERS[targetIndex === 0 ? 1 : 0]!;
    const bus = pseudonyms.user(target.userId);
    const logged = pseudonymize(bus, pseudonyms.decisionLogKey());
    // Before: the listener is in agent state, receipts, events and the decision log (under the log's own id).
    expect(await holders([bus])).toEqual(
      expect.arrayContaining(["CHORUS_EVENTS", "CHORUS_RECEIPTS", "KV_chorus_agent_state"]),
    );
    expect(await holders([logged])).toEqual(["CHORUS_DECISIONS"]);
    const otherBefore = await holders([pseudonyms.user(other.userId)]);
    // The totals once the ledger has applied every event stored so far (on a loaded machine it may lag behind).
    const { state: events } = await (await jetstreamManager(spy)).streams.info("CHORUS_EVENTS");
    await expect
      .poll(async () => (await queryLedger(spy)).lastSequence, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(BigInt(events.last_seq));
    const totalsBefore = await queryLedger(spy);

    // The operator CLI, as an operator runs it: the operator identity, the gateways' key, the raw id.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "cli/chorus.ts", "users", "forget", target.userId, "--session", target.sessionId],
      {
        env: {
          ...process.env,
          ...mesh.auth!.env("operator"),
          ...mesh.pseudonymEnv,
          NATS_URL: mesh.natsUrl,
          CHORUS_DATA_DIR: join(mesh.nats!.storeDir, "no-local-mesh"),
        },
      },
    );
    console.log(stdout);
    // Every process that keeps listeners answered: both agents with per-listener state (they rewrote their own
    // snapshots from memory, so nothing was left for the CLI to rewrite) and the gateway.
    expect(stdout).toMatch(/\(intent\): \d+/);
    expect(stdout).toMatch(/\(timing\): \d+/);
    expect(stdout, "a gateway (no agent named) dropped mirrored state").toMatch(/^\s+[^(\n]+: [^\n]*intent\.\d+/m);
    expect(stdout).not.toMatch(/rewritten here/);
    expect(stdout).toMatch(/CHORUS_RECEIPTS \d+/);
    expect(stdout).toMatch(/CHORUS_EVENTS \d+/);
    expect(stdout).toMatch(/CHORUS_DECISIONS \d+/);

    // After: nothing of the listener in any stream, bucket or object store; the other listener untouched.
    expect(await holders([bus, logged, pseudonyms.session(target.sessionId)])).toEqual([]);
    expect(await holders([pseudonyms.user(other.userId)])).toEqual(otherBefore);
    const onDisk: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else if (readFileSync(path).includes(bus)) onDisk.push(path.slice(mesh.nats!.storeDir.length));
      }
    };
    walk(join(mesh.nats!.storeDir, "jetstream"));
    expect(onDisk, "JetStream files still holding the listener's pseudonym").toEqual([]);
    // The totals still hold the erased listener's spend (the ledger's snapshot had it before its events went).
    const totalsAfter = await queryLedger(spy);
    expect(totalsAfter.campaigns).toEqual(totalsBefore.campaigns);
    // The erased impression, reported again, is not charged twice: its receipt is gone.
    const again = await client.reportEvents({ events: [impressions.get(targetIndex!)![0]!] });
    expect(again.results[0]!.status).not.toBe(EventResult_Status.ACCEPTED);
    // Later decisions work, for the erased listener too, and their events are charged.
    for (const { userId, sessionId } of [target, other]) {
      const response = await client.decide(
        create(DecideRequestSchema, {
          requestId: `req-${requestTag}-after-${userId.slice(-1)}`,
          placement: {
            breakKind: BreakKind.MID_ROLL,
            maxDurationMs: 60_000,
            maxAds: 3,
            allowedFormats: [AdFormat.AUDIO],
          },
          user: { userId, consent: { personalizedAds: true, measurement: true }, geo: { country: "DE" } },
          device: { type: DeviceType.PHONE, screenOn: false, foreground: false, touch: true },
          context: { sessionId, contentKind: ContentKind.MUSIC, genre: "rock", contentDurationMs: 180_000 },
        }),
      );
      expect(response.decisionId).not.toBe("");
    }
    expect((await queryLedger(spy)).campaigns.length).toBeGreaterThan(0);
  }, 90_000);

  it("ran with NATS permissions on: no process was refused anything", () => {
    expect(mesh.auth).toBeDefined();
    expect(permissionViolations(mesh.natsLogFile)).toEqual([]);
  });
});
