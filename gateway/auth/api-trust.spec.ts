import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyRole, ApiKeyService } from "../../gen/chorus/v1/api_key_pb.ts";
import { AdvertiserSchema, CampaignService, CreativeSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { type GatewayFixture, startGatewayFixture, testCampaign } from "../testing/gateway-fixture.ts";
import { rawHttp2Call } from "../testing/raw-http2-call.ts";
import { decideRequest } from "../testing/sample-requests.ts";
import { UNAUTHENTICATED_MESSAGE } from "./api-key-auth.ts";
import { openApiKeyBucket } from "./api-key-store.ts";
import { withApiKey } from "./client-key.ts";

/**
 * The gateway's trust boundary against a real gateway (real HTTP/2 and HTTP/1.1, keys in real JetStream KV):
 * every refusal has the right code, the same message for every authentication failure, and changes nothing.
 */
let fx: GatewayFixture;
beforeAll(async () => {
  fx = await startGatewayFixture();
  await fx.store.create("advertiser", create(AdvertiserSchema, { id: "rival", name: "Rival" }));
  await fx.store.create("campaign", testCampaign("rival-spring", "rival"));
});
afterAll(() => fx?.cleanup());

const protocols: [string, (baseUrl: string, key?: string) => Transport][] = [
  ["gRPC", (baseUrl, key) => createGrpcTransport({ baseUrl, interceptors: key ? [withApiKey(key)] : [] })],
  [
    "Connect over HTTP/2",
    (baseUrl, key) => createConnectTransport({ baseUrl, httpVersion: "2", interceptors: key ? [withApiKey(key)] : [] }),
  ],
  [
    "Connect JSON over HTTP/1.1",
    (baseUrl, key) =>
      createConnectTransport({
        baseUrl,
        httpVersion: "1.1",
        useBinaryFormat: false,
        interceptors: key ? [withApiKey(key)] : [],
      }),
  ],
  [
    "gRPC-Web over HTTP/1.1",
    (baseUrl, key) =>
      createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: key ? [withApiKey(key)] : [] }),
  ],
];

async function refusal(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("the call was not refused");
}

/** Everything a refused call could have changed: the catalog and the key bucket, revisions included. */
async function snapshot() {
  const keys = await (await openApiKeyBucket(fx.nats.js)).status();
  return {
    catalog: JSON.stringify(
      [
        ...(await fx.store.list("advertiser")),
        ...(await fx.store.list("campaign")),
        ...(await fx.store.list("creative")),
      ],
      (_k, v) => (typeof v === "bigint" ? v.toString() : v),
    ),
    keys: [keys.values, keys.streamInfo.state.last_seq],
    events: fx.events.seen.size,
  };
}

describe.each(protocols)("api keys over %s", (_name, transport) => {
  it("no key, a malformed key, an unknown key id and a wrong secret: UNAUTHENTICATED, one message, nothing done", async () => {
    const before = await snapshot();
    const [, id] = fx.keys.decide.split(".");
    const presented = [undefined, "not-a-key", `ck.0123456789abcdef.${"A".repeat(43)}`, `ck.${id}.${"B".repeat(43)}`];
    for (const key of presented) {
      const decide = createClient(DecisionService, transport(fx.gateway.url, key));
      const err = await refusal(decide.decide(decideRequest(`unauth-${key}`)));
      expect(err.code).toBe(Code.Unauthenticated);
      expect(err.rawMessage).toBe(UNAUTHENTICATED_MESSAGE);
      const campaigns = createClient(CampaignService, transport(fx.gateway.url, key));
      const denied = await refusal(campaigns.createAdvertiser({ advertiser: { id: "evil", name: "Evil" } }));
      expect(denied.code).toBe(Code.Unauthenticated);
      expect(denied.rawMessage).toBe(UNAUTHENTICATED_MESSAGE);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("a decide key on CampaignService and a reader key writing: PERMISSION_DENIED, nothing changed", async () => {
    const before = await snapshot();
    const asDecide = createClient(CampaignService, transport(fx.gateway.url, fx.keys.decide));
    expect((await refusal(asDecide.listCampaigns({}))).code).toBe(Code.PermissionDenied);
    expect((await refusal(asDecide.createAdvertiser({ advertiser: { id: "x1", name: "X" } }))).code).toBe(
      Code.PermissionDenied,
    );
    const asReader = createClient(CampaignService, transport(fx.gateway.url, fx.keys.reader));
    expect((await asReader.listCampaigns({})).campaigns.map((c) => c.id)).toEqual(["rival-spring", "spring"]);
    expect((await refusal(asReader.archiveCampaign({ id: "spring" }))).code).toBe(Code.PermissionDenied);
    const keysAsDecide = createClient(ApiKeyService, transport(fx.gateway.url, fx.keys.decide));
    expect((await refusal(keysAsDecide.listApiKeys({}))).code).toBe(Code.PermissionDenied);
    const asAdvertiser = createClient(DecisionService, transport(fx.gateway.url, fx.keys.advertiser));
    expect((await refusal(asAdvertiser.reportEvents({ events: [] }))).code).toBe(Code.PermissionDenied);
    expect(await snapshot()).toEqual(before);
  });
});

describe("api keys: tenants", () => {
  const asAcme = () =>
    createClient(
      CampaignService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.advertiser)] }),
    );

  it("an advertiser key sees and changes only its own advertiser's campaigns and creatives", async () => {
    const client = asAcme();
    expect((await client.listAdvertisers({})).advertisers.map((a) => a.id)).toEqual(["acme"]);
    expect((await client.listCampaigns({})).campaigns.map((c) => c.id)).toEqual(["spring"]);
    expect((await client.listCampaigns({ parentId: "rival" })).campaigns).toEqual([]);
    expect((await client.listCreatives({})).creatives.map((c) => c.id)).toEqual(["cr-a", "cr-b", "cr-c"]);
    const { campaign } = await client.getCampaign({ id: "spring" });
    expect(campaign?.advertiserId).toBe("acme");
  });

  it("another tenant's campaign, creative or advertiser: PERMISSION_DENIED, nothing changed", async () => {
    const client = asAcme();
    const before = await snapshot();
    const rival = await fx.store.get("campaign", "rival-spring");
    const attempts: (() => Promise<unknown>)[] = [
      () => client.getCampaign({ id: "rival-spring" }),
      () => client.getAdvertiser({ id: "rival" }),
      () =>
        client.updateCampaign({ campaign: { ...rival, budgetMicros: 90_000_000n }, expectedRevision: rival.revision }),
      // Moving a rival's campaign to oneself, or one's own to the rival, are both refused.
      () => client.updateCampaign({ campaign: { ...rival, advertiserId: "acme" }, expectedRevision: rival.revision }),
      () => client.archiveCampaign({ id: "rival-spring" }),
      () => client.createCampaign({ campaign: testCampaign("hijack", "rival") }),
      () =>
        client.createCreative({
          creative: create(CreativeSchema, {
            id: "cr-evil",
            campaignId: "rival-spring",
            name: "evil",
            format: AdFormat.AUDIO,
            durationMs: 15_000,
            iabCategory: "IAB2",
            mediaUrl: "https://cdn.example.com/evil.mp3",
          }),
        }),
      () => client.createAdvertiser({ advertiser: { id: "mine", name: "Mine" } }),
      () => client.archiveAdvertiser({ id: "acme" }),
    ];
    for (const [i, attempt] of attempts.entries()) {
      const err = await refusal(attempt());
      expect(err.code, `attempt ${i}: ${err.message}`).toBe(Code.PermissionDenied);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe("api keys: management, revocation, open endpoints, rate limits", () => {
  it("an admin creates keys with the ApiKeyService; a revoked key stops working within 2 s", async () => {
    const admin = createClient(
      ApiKeyService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.admin)] }),
    );
    const created = await admin.createApiKey({ name: "player-app", role: ApiKeyRole.DECIDE });
    expect(created.secretKey).toMatch(/^ck\.[0-9a-f]{16}\./);
    // Only the hash is stored: the secret appears nowhere in the bucket.
    const entry = await (await openApiKeyBucket(fx.nats.js)).get(created.key!.id);
    expect(entry?.string()).not.toContain(created.secretKey.split(".")[2]);
    const listed = await admin.listApiKeys({});
    expect(listed.keys.map((k) => k.name)).toContain("player-app");
    expect(JSON.stringify(listed.keys, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
      created.secretKey.split(".")[2],
    );
    const player = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(created.secretKey)] }),
    );
    await fx.trust.apiKeys.directory.waitFor(created.key!.id, (r) => r !== undefined);
    expect((await player.decide(decideRequest("before-revoke"))).ads.length).toBe(3);

    const revokedAt = performance.now();
    await admin.revokeApiKey({ id: created.key!.id });
    let err: ConnectError | undefined;
    while (!err && performance.now() - revokedAt < 2_000) {
      err = await player.decide(decideRequest(`after-revoke-${performance.now()}`)).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    }
    expect(err?.code).toBe(Code.Unauthenticated);
    expect(err?.rawMessage).toBe(UNAUTHENTICATED_MESSAGE);
    expect(performance.now() - revokedAt).toBeLessThan(2_000);
    // Advertiser keys must name an existing advertiser; other roles must not name one.
    expect(
      (await refusal(admin.createApiKey({ name: "x", role: ApiKeyRole.ADVERTISER, advertiserId: "nobody" }))).code,
    ).toBe(Code.FailedPrecondition);
    expect((await refusal(admin.createApiKey({ name: "x", role: ApiKeyRole.DECIDE, advertiserId: "acme" }))).code).toBe(
      Code.InvalidArgument,
    );
  });

  it("health answers without a key; reflection too (by default)", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: fx.gateway.url }));
    expect((await health.check({ service: "" })).status).toBe(1);
    const raw = await rawHttp2Call(
      fx.gateway.url,
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      { "content-type": "application/grpc", te: "trailers" },
      Buffer.from([0, 0, 0, 0, 2, 0x3a, 0]),
    );
    expect(raw.trailers["grpc-status"] ?? raw.headers["grpc-status"]).toBe("0");
  });

  it("reflection behind a key when configured", async () => {
    const locked = await startGatewayFixture({ reflectionNeedsKey: true });
    try {
      const call = (headers: Record<string, string>) =>
        rawHttp2Call(
          locked.gateway.url,
          "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
          { "content-type": "application/grpc", te: "trailers", ...headers },
          Buffer.from([0, 0, 0, 0, 2, 0x3a, 0]),
        );
      const anonymous = await call({});
      expect(anonymous.trailers["grpc-status"] ?? anonymous.headers["grpc-status"]).toBe(String(Code.Unauthenticated));
      const keyed = await call({ authorization: `Bearer ${locked.keys.reader}` });
      expect(keyed.trailers["grpc-status"] ?? keyed.headers["grpc-status"]).toBe("0");
    } finally {
      await locked.cleanup();
    }
  });

  it("a key over its rate gets RESOURCE_EXHAUSTED with retry-after and google.rpc.RetryInfo; other keys are served", async () => {
    const made = await fx.trust.apiKeys.admin.create({
      name: "slow",
      role: "decide",
      rateLimit: { perSecond: 1, burst: 2 },
    });
    await fx.trust.apiKeys.directory.waitFor(made.record.id, (r) => r !== undefined);
    const slow = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(made.key)] }),
    );
    await slow.decide(decideRequest("rl-1"));
    await slow.decide(decideRequest("rl-2"));
    const err = await refusal(slow.decide(decideRequest("rl-3")));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toMatch(/retry after \d+ ms/);
    expect(Number(err.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(err.details.map((d) => ("type" in d ? d.type : d.desc.typeName))).toContain("google.rpc.RetryInfo");
    // The same over Connect: HTTP 429 with the header.
    const viaConnect = await rawHttp2Call(
      fx.gateway.url,
      "/chorus.v1.DecisionService/Decide",
      { "content-type": "application/json", authorization: `Bearer ${made.key}` },
      Buffer.from("{}"),
    );
    expect(viaConnect.status).toBe(429);
    expect(viaConnect.headers["retry-after"]).toBeDefined();
    const other: Client<typeof DecisionService> = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
    );
    expect((await other.decide(decideRequest("rl-other"))).ads.length).toBe(3);
  });
});
