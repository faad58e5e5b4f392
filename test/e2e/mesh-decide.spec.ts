import { create } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { DecideRequestSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { freePort } from "../../lib/nats/nats-server-process.ts";
import { demoCatalog } from "../../scripts/demo/demo-catalog.ts";
import { type Mesh, startMesh } from "../../scripts/mesh.ts";

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
    mesh = await startMesh({ gatewayPort: await freePort(), silent: true, demo: true });
  }, 60_000);
  afterAll(() => mesh?.stop(), 30_000);

  const transports: [string, () => Transport][] = [
    ["Connect binary over HTTP/2", () => createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "2" })],
    [
      "Connect JSON over HTTP/1.1",
      () => createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1", useBinaryFormat: false }),
    ],
    ["gRPC", () => createGrpcTransport({ baseUrl: mesh.gatewayUrl })],
    ["gRPC-Web", () => createGrpcWebTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1" })],
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
});
