import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import {
  AdEventType,
  DecideRequestSchema,
  DecisionService,
  EventResult_Status,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { Mesh } from "../../launch/mesh.ts";
import { queryLedger } from "../../ledger/ledger.ts";
import { demoCatalog } from "../../lib/demo/demo-catalog.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { adEvents, decideRequest } from "../../loadtest/lib/decide-request.js";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

const demo = demoCatalog();
const demoCampaigns = new Set(demo.campaigns.map((c) => c.id));

const request = (id: string) =>
  create(DecideRequestSchema, {
    requestId: id,
    placement: { breakKind: BreakKind.PRE_ROLL, maxDurationMs: 60_000, maxAds: 3, allowedFormats: [AdFormat.AUDIO] },
    user: { userId: `e2e-${id}`, consent: { personalizedAds: true, measurement: true }, geo: { country: "DE" } },
    device: { type: DeviceType.PHONE, screenOn: false, foreground: false, touch: true },
    context: {
      sessionId: `s-${id}`,
      contentKind: ContentKind.MUSIC,
      genre: "rock",
      positionMs: 0,
      contentDurationMs: 180_000,
    },
  });

describe("mesh - the whole local mesh as separate processes", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMeshOnFreePorts(async (port) => ({ gatewayPort: await port(), silent: true, demo: true }));
  }, 60_000);
  afterAll(() => mesh?.stop(), 30_000);

  const transports: [string, () => Transport][] = [
    [
      "Connect binary over HTTP/2",
      () =>
        createConnectTransport({
          baseUrl: mesh.gatewayUrl,
          interceptors: [withApiKey(mesh.credentials.decideKey)],
          httpVersion: "2",
        }),
    ],
    [
      "Connect JSON over HTTP/1.1",
      () =>
        createConnectTransport({
          baseUrl: mesh.gatewayUrl,
          interceptors: [withApiKey(mesh.credentials.decideKey)],
          httpVersion: "1.1",
          useBinaryFormat: false,
        }),
    ],
    [
      "gRPC",
      () => createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    ],
    [
      "gRPC-Web",
      () =>
        createGrpcWebTransport({
          baseUrl: mesh.gatewayUrl,
          interceptors: [withApiKey(mesh.credentials.decideKey)],
          httpVersion: "1.1",
        }),
    ],
  ];

  it.each(transports)("Decide over %s returns a pod from the demo campaigns", async (name, transport) => {
    const client = createClient(DecisionService, transport());
    const response = await client.decide(request(name.replace(/\W+/g, "-")));
    expect(response.decisionId).not.toBe("");
    expect(response.ads.length).toBeGreaterThan(0);
    for (const ad of response.ads) {
      expect(demoCampaigns.has(ad.campaignId)).toBe(true);
      expect(ad.format).toBe(AdFormat.AUDIO);
      expect(ad.priceMicros).toBeGreaterThan(0n);
    }
    expect(response.moduleVersions.length).toBeGreaterThan(0);
  });

  // k6 cannot be installed here: this sends the very bodies the k6 scripts build (loadtest/lib) the way k6/http does
  // (JSON over HTTP/1.1) and applies their checks, so a script whose payload the gateway refuses fails here.
  it("accepts the k6 scripts' Decide and ReportEvents bodies over Connect JSON and passes their checks", async () => {
    const post = async (method: string, body: unknown) => {
      const res = await fetch(`${mesh.gatewayUrl}/chorus.v1.DecisionService/${method}`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Connect-Protocol-Version": "1",
          Authorization: `Bearer ${mesh.credentials.decideKey}`,
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    let played: { decisionId: string; creativeId: string; eventToken: string } | undefined;
    for (let iter = 0; iter < 40 && !played; iter++) {
      const decide = await post("Decide", decideRequest(1, iter));
      expect(decide.status, JSON.stringify(decide.json)).toBe(200);
      expect(decide.json.decisionId).toBeTruthy();
      const ads = (decide.json.ads ?? []) as { creativeId: string; eventToken: string }[];
      if (ads[0])
        played = {
          decisionId: decide.json.decisionId as string,
          creativeId: ads[0].creativeId,
          eventToken: ads[0].eventToken,
        };
    }
    expect(played, "some k6 Decide bodies fill a pod").toBeDefined();
    const report = await post("ReportEvents", {
      events: adEvents(played!.decisionId, played!.creativeId, played!.eventToken),
    });
    expect(report.status, JSON.stringify(report.json)).toBe(200);
    expect(Number(report.json.accepted ?? 0) + Number(report.json.duplicates ?? 0)).toBe(3);
  });

  it("charges an impression reported through the gateway to its campaign once, at the decided price", async () => {
    const client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    );
    const { decisionId, ads } = await client.decide(request("ledger"));
    const ad = ads[0]!;
    const nc = await mesh.connect("e2e-ledger");
    try {
      const before = (await queryLedger(nc, ad.campaignId)).campaigns.find((c) => c.campaignId === ad.campaignId);
      const event = {
        eventId: `imp-${decisionId}`,
        decisionId,
        creativeId: ad.creativeId,
        eventToken: ad.eventToken,
        type: AdEventType.IMPRESSION,
        occurredAt: timestampNow(),
      };
      const first = await client.reportEvents({ events: [event] });
      expect(first.results[0]!.status).toBe(EventResult_Status.ACCEPTED);
      const again = await client.reportEvents({ events: [event] });
      expect(again.results[0]!.status).toBe(EventResult_Status.DUPLICATE);
      const unknown = await client.reportEvents({
        events: [{ ...event, eventId: "imp-x", decisionId: "no-such-decision" }],
      });
      expect(unknown.results[0]!.status).toBe(EventResult_Status.REJECTED);

      const expected = (before?.spendMicros ?? 0n) + ad.priceMicros;
      let spend = before?.spendMicros ?? 0n;
      for (let i = 0; i < 50 && spend !== expected; i++) {
        await new Promise((r) => setTimeout(r, 100));
        spend =
          (await queryLedger(nc, ad.campaignId)).campaigns.find((c) => c.campaignId === ad.campaignId)?.spendMicros ??
          0n;
      }
      expect(spend).toBe(expected);
    } finally {
      await nc.close();
    }
  });
  it("ran with NATS permissions on: no process was refused anything", () => {
    expect(mesh.auth, "the mesh's private server requires credentials").toBeDefined();
    expect(permissionViolations(mesh.natsLogFile)).toEqual([]);
  });
});
