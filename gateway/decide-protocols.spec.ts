import { timestampNow } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdFormat } from "../gen/chorus/v1/common_pb.ts";
import { DecisionService } from "../gen/chorus/v1/decision_pb.ts";
import { withApiKey } from "./auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture } from "./testing/gateway-fixture.ts";
import { decideRequest } from "./testing/sample-requests.ts";

let fx: GatewayFixture;
beforeAll(async () => {
  fx = await startGatewayFixture();
});
afterAll(() => fx?.cleanup());

const transports: [string, (baseUrl: string, key: string) => Transport][] = [
  [
    "Connect binary over HTTP/2",
    (baseUrl, key) => createConnectTransport({ baseUrl, interceptors: [withApiKey(key)], httpVersion: "2" }),
  ],
  [
    "Connect JSON over HTTP/2",
    (baseUrl, key) =>
      createConnectTransport({ baseUrl, interceptors: [withApiKey(key)], httpVersion: "2", useBinaryFormat: false }),
  ],
  [
    "Connect binary over HTTP/1.1",
    (baseUrl, key) => createConnectTransport({ baseUrl, interceptors: [withApiKey(key)], httpVersion: "1.1" }),
  ],
  [
    "Connect JSON over HTTP/1.1",
    (baseUrl, key) =>
      createConnectTransport({ baseUrl, interceptors: [withApiKey(key)], httpVersion: "1.1", useBinaryFormat: false }),
  ],
  ["gRPC", (baseUrl, key) => createGrpcTransport({ baseUrl, interceptors: [withApiKey(key)] })],
  [
    "gRPC-Web over HTTP/1.1",
    (baseUrl, key) => createGrpcWebTransport({ baseUrl, interceptors: [withApiKey(key)], httpVersion: "1.1" }),
  ],
  [
    "gRPC-Web over HTTP/2",
    (baseUrl, key) => createGrpcWebTransport({ baseUrl, interceptors: [withApiKey(key)], httpVersion: "2" }),
  ],
];

describe.each(transports)("gateway %s", (_name, makeTransport) => {
  let client: Client<typeof DecisionService>;
  beforeAll(() => {
    client = createClient(DecisionService, makeTransport(fx.gateway.url, fx.keys.decide));
  });

  it("decide - answers a pod built from the live catalog", async () => {
    const response = await client.decide(decideRequest("proto-1"));
    expect(response.decisionId).toBe("test-proto-1");
    // 15 s + 30 s + 20 s fit in 90 s; the engine fills in creative id order.
    expect(response.ads.map((ad) => [ad.sequence, ad.creativeId, ad.durationMs, ad.format])).toEqual([
      [1, "cr-a", 15_000, AdFormat.AUDIO],
      [2, "cr-b", 30_000, AdFormat.AUDIO],
      [3, "cr-c", 20_000, AdFormat.AUDIO],
    ]);
    expect(response.ads[0]!.priceMicros).toBe(1_500n);
    // Each ad carries its event token, and its tracking URLs carry it too.
    const token = response.ads[0]!.eventToken;
    expect(fx.trust.eventTokens.verify(token, "test-proto-1", "cr-a").ok).toBe(true);
    expect(response.ads[0]!.tracking?.impression).toEqual([
      `https://t.example.com/i/cr-a?chorus_et=${encodeURIComponent(token)}`,
    ]);
  });

  it("decide - follows catalog changes (the answer depends on the request and the data)", async () => {
    const request = decideRequest("proto-2");
    request.placement!.maxDurationMs = 40_000;
    const response = await client.decide(request);
    expect(response.ads.map((ad) => ad.creativeId)).toEqual(["cr-a", "cr-c"]);
  });

  it("decide - rejects an invalid request naming the field", async () => {
    const request = decideRequest("proto-3");
    request.placement!.maxAds = 40;
    await expect(client.decide(request)).rejects.toMatchObject({
      code: 3, // INVALID_ARGUMENT
      rawMessage: expect.stringContaining("placement.max_ads"),
    });
  });

  it("reportEvents - counts repeated event ids once", async () => {
    const event = {
      eventId: `ev-${_name}`,
      decisionId: "test-proto-1",
      creativeId: "cr-a",
      eventToken: fx.trust.eventTokens.sign("test-proto-1", "cr-a"),
      type: 1,
      occurredAt: timestampNow(),
    };
    const first = await client.reportEvents({ events: [event] });
    const second = await client.reportEvents({ events: [event] });
    expect([first.accepted, first.duplicates, second.accepted, second.duplicates]).toEqual([1, 0, 0, 1]);
  });
});
