/**
 * No message can stop the mesh: random bytes, empty messages and out-of-range protobuf values are published on every
 * subject the permission table lets any Chorus identity publish to (lib/nats/permissions.ts: signals of every agent,
 * playback, auction outcomes, ad events, receipts, leases, the decision log, catalog, agent state, module state,
 * API keys, ledger and leader keys, decide/lease/ledger requests), plus the accepted-events copies nobody may write.
 * The mesh keeps answering Decide, no process restarts, and the ledger still charges an impression exactly; the
 * ledger keeps the bad events it read in the quarantine stream (headers: source subject, sequence, reason), and every
 * process counts what it skipped on its /metrics (chorus_bad_messages_total by consumer and reason).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import {
  AdEventType,
  DecideRequestSchema,
  DecisionService,
  EventResult_Status,
  PlaybackSignalSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import type { Mesh } from "../../launch/mesh.ts";
import { QUARANTINE_HEADERS, queryLedger } from "../../ledger/ledger.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { type Identity, permissionsFor } from "../../lib/nats/permissions.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { AGENTS, buckets, streams, subjects } from "../../lib/subjects.ts";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

const PUBLISHERS: Identity[] = [
  { kind: "gateway", name: "gateway" },
  { kind: "agents", name: "agents", agents: AGENTS.filter((a) => a !== "budget") },
  { kind: "budget", name: "budget" },
  { kind: "ledger", name: "ledger" },
  { kind: "operator", name: "operator" },
];

/** Concrete subjects for every publish grant that is not the JetStream API: wildcards filled in several ways. */
function garbageSubjects(): string[] {
  const out = new Set<string>();
  const fills = ["0", "7", ...AGENTS, "global"];
  for (const identity of PUBLISHERS)
    for (const grant of permissionsFor(identity).publish) {
      if (grant.startsWith("$JS.") || grant.startsWith("$SRV.") || grant.startsWith("$O.")) continue;
      for (const fill of fills) out.add(grant.replaceAll("*", fill).replace(/>$/, `${fill}.x`).replace(/>$/, fill));
      if (grant.endsWith(">")) out.add(grant.replace(/>$/, "global"));
    }
  // Keys the processes watch and decode, by name.
  for (const key of ["campaign.garbage", "advertiser.garbage", "creative.garbage"])
    out.add(`$KV.${buckets.catalog}.${key}`);
  for (const agent of AGENTS) out.add(`$KV.${buckets.agentState}.${agent}.global`);
  out.add(`$KV.${buckets.moduleState}.state.kernel`);
  out.add(`$KV.${buckets.moduleState}.state.agent-relevance`);
  out.add(`$KV.${buckets.apiKeys}.garbagekey`);
  // Read at start by the ledger and the Budget agent (their stored totals), and written by the ledger's CAS.
  out.add(`$KV.${buckets.ledger}.snapshot`);
  out.add(subjects.acceptedEvents("impression").replace(/>$/, "c.x"));
  out.add(subjects.acceptedEventsAll.replace(/>$/, "complete.c.x"));
  return [...out].filter((s) => !s.includes("_INBOX"));
}

/** Not decodable, empty, and decodable with values out of every range (a 2^62 charge at year ~10^11). */
const PAYLOADS = [
  () => randomBytes(64),
  () => new Uint8Array(0),
  () =>
    toBinary(
      LedgerEntrySchema,
      create(LedgerEntrySchema, {
        campaignId: "garbage",
        chargeMicros: 2n ** 62n,
        acceptedAt: { seconds: 2n ** 62n, nanos: 0 },
        chargeDay: 2 ** 31 - 1,
      }),
    ),
];

const request = (id: string) =>
  create(DecideRequestSchema, {
    requestId: id,
    placement: { breakKind: BreakKind.PRE_ROLL, maxDurationMs: 60_000, maxAds: 3, allowedFormats: [AdFormat.AUDIO] },
    user: { userId: `garbage-${id}`, consent: { personalizedAds: true, measurement: true }, geo: { country: "DE" } },
    device: { type: DeviceType.PHONE, screenOn: false, foreground: false, touch: true },
    context: {
      sessionId: `s-${id}`,
      contentKind: ContentKind.MUSIC,
      genre: "rock",
      positionMs: 0,
      contentDurationMs: 180_000,
    },
  });

describe("mesh garbage - no message on any subject Chorus reads stops a process", () => {
  let mesh: Mesh;
  let attacker: NatsConnection;
  let pids: number[];
  /** Each process's /metrics port. */
  const metricsPorts: Record<string, number> = {};
  beforeAll(async () => {
    mesh = await startMeshOnFreePorts(async (port) => {
      for (const name of ["ledger", "budget", "agents-1", "agents-2", "gateway"]) metricsPorts[name] = await port();
      return {
        processEnv: Object.fromEntries(
          Object.entries(metricsPorts).map(([name, metricsPort]) => [name, { METRICS_PORT: String(metricsPort) }]),
        ),
        gatewayPort: await port(),
        silent: true,
        demo: true,
        inspector: true,
        readyTimeoutMs: 60_000,
      };
    });
    attacker = await mesh.connect("garbage-publisher", "inspector");
    pids = mesh.children.map((c) => c.pid);
  }, 180_000);
  afterAll(async () => {
    await attacker?.close();
    await mesh?.stop();
  }, 30_000);

  const client = () =>
    createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    );

  it("keeps answering Decide while and after garbage arrives on every subject", async () => {
    const targets = garbageSubjects();
    expect(targets.length).toBeGreaterThan(60);
    const c = client();
    let failed = 0;
    let answered = 0;
    const decide = async (id: string) => {
      try {
        await c.decide(request(id), { timeoutMs: 10_000 });
        answered++;
      } catch {
        failed++;
      }
    };
    for (let round = 0; round < 3; round++) {
      for (const subject of targets) for (const payload of PAYLOADS) attacker.publish(subject, payload());
      await attacker.flush();
      await decide(`during-${round}`);
      // Playback that cannot be read must not stop the Intent and Timing agents either.
      await c.reportPlayback({
        signals: [
          create(PlaybackSignalSchema, {
            sessionId: `s-${round}`,
            userId: `garbage-listener-${round}`,
            at: timestampNow(),
            kind: {
              case: "contentStart",
              value: { contentKind: ContentKind.MUSIC, genre: "rock", durationMs: 60_000 },
            },
          }),
        ],
      });
    }
    // Agents save snapshots and publish signals on timers: let a few of those pass with the garbage in place.
    await new Promise((r) => setTimeout(r, 3_000));
    // Garbage on the leader keys (a compromised Budget or ledger identity could write it) costs the leader its
    // compare-and-set renewal: a new election follows within the key's TTL, and leases flow again. Measured, bounded.
    const start = Date.now();
    let filled = 0;
    for (let i = 0; filled === 0 && Date.now() - start < 30_000; i++) {
      const response = await c.decide(request(`after-${i}`), { timeoutMs: 10_000 });
      if (response.ads.length > 0) filled++;
      else await new Promise((r) => setTimeout(r, 200));
    }
    console.log(`mesh garbage: first filled pod ${Date.now() - start} ms after the garbage (+3 s wait)`);
    expect(failed).toBe(0);
    expect(answered).toBe(3);
    expect(filled, "decisions after the garbage still fill pods").toBeGreaterThan(0);
    expect(
      mesh.children.map((c) => c.pid),
      "no process was restarted",
    ).toEqual(pids);
    expect(mesh.children.map((c) => c.restarts)).toEqual(mesh.children.map(() => 0));
  }, 120_000);

  it("still charges an impression exactly once, at the decided price", async () => {
    const c = client();
    let decided: Awaited<ReturnType<typeof c.decide>> | undefined;
    for (let i = 0; i < 10 && !decided?.ads[0]; i++) decided = await c.decide(request(`ledger-${i}`));
    const ad = decided!.ads[0]!;
    const nc = await mesh.connect("garbage-ledger-check");
    try {
      const spendOf = async () =>
        (await queryLedger(nc, ad.campaignId)).campaigns.find((x) => x.campaignId === ad.campaignId)?.spendMicros ?? 0n;
      const before = await spendOf();
      const event = {
        eventId: `imp-${decided!.decisionId}`,
        decisionId: decided!.decisionId,
        creativeId: ad.creativeId,
        eventToken: ad.eventToken,
        type: AdEventType.IMPRESSION,
        occurredAt: timestampNow(),
      };
      expect((await c.reportEvents({ events: [event] })).results[0]!.status).toBe(EventResult_Status.ACCEPTED);
      expect((await c.reportEvents({ events: [event] })).results[0]!.status).toBe(EventResult_Status.DUPLICATE);
      let spend = before;
      for (let i = 0; i < 100 && spend !== before + ad.priceMicros; i++) {
        await new Promise((r) => setTimeout(r, 100));
        spend = await spendOf();
      }
      expect(spend).toBe(before + ad.priceMicros);
    } finally {
      await nc.close();
    }
  }, 60_000);

  it("the ledger kept the bad events in quarantine, named by subject and sequence; every process counted what it skipped", async () => {
    const nc = await mesh.connect("garbage-quarantine-check");
    try {
      const jsm = await jetstreamManager(nc);
      const { state } = await jsm.streams.info(streams.quarantine);
      // The garbage above also went straight onto quarantine subjects (the ledger may publish there): the ledger's
      // own entries are those naming their source.
      const kept = [];
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(streams.quarantine, { seq }).catch(() => null);
        if (m?.header?.get(QUARANTINE_HEADERS.subject)) kept.push(m);
      }
      // Every undecodable or out-of-range event the events stream took (random bytes, empty, 2^62 charges).
      console.log(`mesh garbage: ${kept.length} events quarantined by the ledger (${state.messages} messages in all)`);
      expect(kept.length).toBeGreaterThan(0);
      for (const q of kept) {
        const sourceSubject = q.header.get(QUARANTINE_HEADERS.subject);
        const sourceSeq = Number(q.header.get(QUARANTINE_HEADERS.sequence));
        expect(sourceSubject).toMatch(/^chorus\.events\./);
        expect(q.subject).toBe(subjects.quarantinedEvent(sourceSeq));
        expect(q.header.get(QUARANTINE_HEADERS.reason)).toMatch(/undecodable|out_of_range/);
        // The quarantined bytes are the event's own.
        const original = (await jsm.streams.getMessage(streams.events, { seq: sourceSeq }))!;
        expect(original.subject).toBe(sourceSubject);
        expect([...q.data]).toEqual([...original.data]);
      }
    } finally {
      await nc.close();
    }
    const counted: Record<string, number> = {};
    for (const [name, port] of Object.entries(metricsPorts)) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const line of text.split("\n")) {
        const m = /^chorus_bad_messages_total\{consumer="([^"]+)",reason="[^"]+"\} (\d+)/.exec(line);
        if (m) counted[`${name}/${m[1]}`] = (counted[`${name}/${m[1]}`] ?? 0) + Number(m[2]);
      }
    }
    console.log(`mesh garbage: bad messages counted ${JSON.stringify(counted)}`);
    for (const name of Object.keys(metricsPorts))
      expect(
        Object.keys(counted).some((k) => k.startsWith(`${name}/`)),
        `${name} counts bad messages on /metrics`,
      ).toBe(true);
    expect(counted["ledger/ledger"]).toBeGreaterThan(0);
  });

  it.skipIf(process.platform !== "linux")(
    "each process was handed only its own identity (environment and argv), and only the gateway the pseudonym key",
    () => {
      for (const child of mesh.children) {
        const environ = readFileSync(`/proc/${child.pid}/environ`, "utf8").split("\0");
        const argv = readFileSync(`/proc/${child.pid}/cmdline`, "utf8");
        const env = Object.fromEntries(
          environ.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
        );
        expect(env.NATS_NKEY_SEED_FILE, child.name).toBe(mesh.auth!.access(child.name).seedFile);
        expect(env.NATS_INBOX_PREFIX, child.name).toBe(`_INBOX.${child.name}`);
        // No seed (SU...) in the environment or on the command line: only the path of its own seed file.
        expect([...environ, argv].join("\n"), child.name).not.toMatch(/\bSU[A-Z2-7]{50,}/);
        const keyed = Boolean(env.CHORUS_PSEUDONYM_KEY_FILE || env.CHORUS_PSEUDONYM_SALT);
        expect(keyed, `${child.name} holds the pseudonym key`).toBe(child.name === "gateway");
      }
    },
  );

  it("ran with NATS permissions on: no Chorus process was refused anything", () => {
    expect(mesh.auth).toBeDefined();
    expect(permissionViolations(mesh.natsLogFile).filter((v) => v.client !== "garbage-publisher")).toEqual([]);
  });
});
