import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { EventTokens, parseEventTokenKeys } from "../../gateway/auth/event-token.ts";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import {
  AdEventType,
  DecideRequestSchema,
  type DecideResponse,
  DecisionService,
  EventRejection,
  EventResult_Status,
  type PodAd,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { Mesh } from "../../launch/mesh.ts";
import { queryLedger } from "../../ledger/ledger.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { streams } from "../../lib/subjects.ts";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

/**
 * The refusals end to end: the real gateway process, the real ledger and event stream. Every refused event
 * leaves the ledger as it was; a repeated request id reserves once.
 */
const request = (id: string) =>
  create(DecideRequestSchema, {
    requestId: id,
    placement: { breakKind: BreakKind.PRE_ROLL, maxDurationMs: 60_000, maxAds: 3, allowedFormats: [AdFormat.AUDIO] },
    user: { userId: `trust-${id}`, consent: { personalizedAds: true, measurement: true }, geo: { country: "DE" } },
    device: { type: DeviceType.PHONE, touch: true },
    context: { sessionId: `s-${id}`, contentKind: ContentKind.MUSIC, genre: "rock", contentDurationMs: 180_000 },
  });

describe("api trust - the whole mesh", () => {
  let mesh: Mesh;
  let nc: NatsConnection;
  let client: ReturnType<typeof createClient<typeof DecisionService>>;
  beforeAll(async () => {
    mesh = await startMeshOnFreePorts(async (port) => ({ gatewayPort: await port(), silent: true, demo: true }));
    nc = await mesh.connect("e2e-trust");
    client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    );
  }, 120_000);
  afterAll(async () => {
    await nc?.close();
    await mesh?.stop();
  }, 30_000);

  /** A decision with at least one ad (a fresh gateway may still be fetching its leases). */
  async function filled(id: string): Promise<{ decision: DecideResponse; ad: PodAd; requestId: string }> {
    for (let i = 0; i < 50; i++) {
      const requestId = `${id}-${i}`;
      const decision = await client.decide(request(requestId));
      if (decision.ads[0]) return { decision, ad: decision.ads[0], requestId };
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("no filled decision");
  }
  const spend = async (campaignId: string) =>
    (await queryLedger(nc, campaignId)).campaigns.find((c) => c.campaignId === campaignId)?.spendMicros ?? 0n;
  const receiptCount = async () => (await (await jetstreamManager(nc)).streams.info(streams.receipts)).state.messages;

  it("no key and a wrong secret are UNAUTHENTICATED on the real gateway", async () => {
    const anonymous = createClient(DecisionService, createGrpcTransport({ baseUrl: mesh.gatewayUrl }));
    await expect(anonymous.decide(request("anon"))).rejects.toMatchObject({ code: Code.Unauthenticated });
    const [, id] = mesh.credentials.decideKey.split(".");
    const wrong = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(`ck.${id}.${"x".repeat(43)}`)] }),
    );
    await expect(wrong.reportEvents({ events: [] })).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("missing, forged, moved and expired event tokens are rejected by name; the ledger is unchanged", async () => {
    const { decision, ad } = await filled("tokens");
    const other = await filled("tokens-other");
    const before = await spend(ad.campaignId);
    const [kid, expiry, mac] = ad.eventToken.split(".");
    const forgedMac = `${mac!.startsWith("A") ? "B" : "A"}${mac!.slice(1)}`;
    const past = new EventTokens(
      parseEventTokenKeys(mesh.credentials.eventTokenKeys),
      60_000,
      () => Date.now() - 3_600_000,
    );
    const impression = (eventId: string, eventToken: string) => ({
      eventId,
      decisionId: decision.decisionId,
      creativeId: ad.creativeId,
      eventToken,
      type: AdEventType.IMPRESSION,
      occurredAt: timestampNow(),
    });
    const refused = await client.reportEvents({
      events: [
        impression("t-missing", ""),
        impression("t-forged", `${kid}.${expiry}.${forgedMac}`),
        impression("t-extended", `${kid}.${Number(expiry) + 86_400}.${mac}`),
        impression("t-moved", other.ad.eventToken),
        impression("t-expired", past.sign(decision.decisionId, ad.creativeId)),
      ],
    });
    expect(refused.results.map((r) => [r.status, r.rejection])).toEqual([
      [EventResult_Status.REJECTED, EventRejection.MISSING_TOKEN],
      [EventResult_Status.REJECTED, EventRejection.INVALID_TOKEN],
      [EventResult_Status.REJECTED, EventRejection.INVALID_TOKEN],
      [EventResult_Status.REJECTED, EventRejection.INVALID_TOKEN],
      [EventResult_Status.REJECTED, EventRejection.EXPIRED_TOKEN],
    ]);
    expect(refused.results[4]!.reason).toMatch(/expired/);

    // The real token: counted once; replays (same or new event id) are duplicates.
    const first = await client.reportEvents({ events: [impression("t-real", ad.eventToken)] });
    expect(first.results[0]!.status).toBe(EventResult_Status.ACCEPTED);
    const replays = await client.reportEvents({
      events: [impression("t-real", ad.eventToken), impression("t-real-again", ad.eventToken)],
    });
    expect(replays.results.map((r) => r.status)).toEqual([EventResult_Status.DUPLICATE, EventResult_Status.DUPLICATE]);
    const expected = before + ad.priceMicros;
    await expect.poll(() => spend(ad.campaignId), { timeout: 10_000 }).toBe(expected);
    await new Promise((r) => setTimeout(r, 500));
    expect(await spend(ad.campaignId)).toBe(expected);

    // Conversions: one per ad; the next is past the limit.
    const conversion = (eventId: string) => ({
      ...impression(eventId, ad.eventToken),
      type: AdEventType.CONVERSION,
      valueMicros: 5_000_000n,
    });
    expect((await client.reportEvents({ events: [conversion("c-1")] })).results[0]!.status).toBe(
      EventResult_Status.ACCEPTED,
    );
    const second = await client.reportEvents({ events: [conversion("c-2")] });
    expect(second.results[0]).toMatchObject({
      status: EventResult_Status.REJECTED,
      rejection: EventRejection.CONVERSION_LIMIT,
    });
    expect(await spend(ad.campaignId)).toBe(expected);
  });

  it("a repeated request id returns the same decision and reserves once", async () => {
    const { decision, requestId } = await filled("idem");
    await new Promise((r) => setTimeout(r, 500));
    const receipts = await receiptCount();
    for (let i = 0; i < 3; i++) {
      const repeated = await client.decide(request(requestId));
      expect(repeated.decisionId).toBe(decision.decisionId);
      expect(repeated.ads).toEqual(decision.ads);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(await receiptCount()).toBe(receipts);
  });
  it("ran with NATS permissions on: no process was refused anything", () => {
    expect(mesh.auth, "the mesh's private server requires credentials").toBeDefined();
    expect(permissionViolations(mesh.natsLogFile)).toEqual([]);
  });
});
