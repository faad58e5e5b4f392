import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignService, CreativeSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { DecideResponseSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { withApiKey } from "../auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture } from "../testing/gateway-fixture.ts";
import { decideRequest } from "../testing/sample-requests.ts";

/** Decide's trust rules on a real gateway: idempotent request ids, explanations by role, creative URL schemes. */
let fx: GatewayFixture;
let decisions = 0;
beforeAll(async () => {
  fx = await startGatewayFixture({
    engine: {
      decide: async (request) => {
        decisions++;
        await new Promise((r) => setTimeout(r, 20));
        return create(DecideResponseSchema, {
          decisionId: `d-${decisions}`,
          ads: [{ sequence: 1, creativeId: "cr-a", campaignId: "spring", advertiserId: "acme", priceMicros: 900n }],
          explanation: request.explain
            ? {
                summary: "1 ad from 2 eligible",
                candidates: [
                  { creativeId: "cr-a", campaignId: "spring", advertiserId: "acme", chosen: true, valueMicros: 12 },
                  { creativeId: "cr-r", campaignId: "rival-1", advertiserId: "rival", valueMicros: 11, vetoes: ["x"] },
                ],
              }
            : undefined,
        });
      },
    },
  });
});
afterAll(() => fx?.cleanup());

const decideClient = (key: string) =>
  createClient(DecisionService, createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(key)] }));

describe("Decide trust rules", () => {
  it("request_id: the same key and request id get the same decision, decided once (also while in flight)", async () => {
    const client = decideClient(fx.keys.decide);
    const before = decisions;
    const [a, b] = await Promise.all([client.decide(decideRequest("idem-1")), client.decide(decideRequest("idem-1"))]);
    const c = await client.decide(decideRequest("idem-1"));
    expect(decisions - before).toBe(1);
    expect(b.decisionId).toBe(a.decisionId);
    expect(c.decisionId).toBe(a.decisionId);
    expect(c.ads).toEqual(a.ads);
    expect(c.ads[0]!.eventToken).toBe(a.ads[0]!.eventToken);
    // Another request id, or the same id from another key, is another decision.
    expect((await client.decide(decideRequest("idem-2"))).decisionId).not.toBe(a.decisionId);
    const admin = decideClient(fx.keys.admin);
    expect((await admin.decide(decideRequest("idem-1"))).decisionId).not.toBe(a.decisionId);
    expect(decisions - before).toBe(3);
  });

  it("explain: admin sees every line, an advertiser only its own, a decide key the summary", async () => {
    const ask = (key: string, id: string) => decideClient(key).decide({ ...decideRequest(id), explain: true });
    const admin = await ask(fx.keys.admin, "ex-admin");
    expect(admin.explanation?.candidates.map((c) => c.campaignId)).toEqual(["spring", "rival-1"]);
    const advertiser = await ask(fx.keys.advertiser, "ex-adv");
    expect(advertiser.explanation?.candidates.map((c) => c.campaignId)).toEqual(["spring"]);
    expect(advertiser.explanation?.summary).toBe("1 ad from 2 eligible");
    const player = await ask(fx.keys.decide, "ex-player");
    expect(player.explanation?.candidates).toEqual([]);
    expect(player.explanation?.summary).toBe("1 ad from 2 eligible");
  });
});

describe("creative URLs", () => {
  const creative = (id: string, urls: { mediaUrl?: string; clickUrl?: string; impression?: string[] }) =>
    create(CreativeSchema, {
      id,
      campaignId: "spring",
      name: id,
      format: AdFormat.AUDIO,
      durationMs: 15_000,
      iabCategory: "IAB2",
      mediaUrl: urls.mediaUrl ?? "https://cdn.example.com/a.mp3",
      clickUrl: urls.clickUrl ?? "",
      tracking: { impression: urls.impression ?? [] },
    });
  it("https only: javascript:, data:, file: and http: are INVALID_ARGUMENT naming the field, nothing stored", async () => {
    const client = createClient(
      CampaignService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.admin)] }),
    );
    const cases: [Parameters<typeof creative>[1], string][] = [
      [{ clickUrl: "javascript:alert(1)" }, "creative.click_url"],
      [{ mediaUrl: "data:audio/mp3;base64,AAAA" }, "creative.media_url"],
      [{ mediaUrl: "http://cdn.example.com/a.mp3" }, "creative.media_url"],
      [{ impression: ["https://t.example/i", "file:///etc/passwd"] }, "creative.tracking.impression[1]"],
    ];
    for (const [i, [urls, field]] of cases.entries()) {
      const id = `bad-url-${i}`;
      await expect(client.createCreative({ creative: creative(id, urls) })).rejects.toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: expect.stringContaining(field),
      });
      expect(await fx.store.find("creative", id)).toBeUndefined();
    }
    const ok = await client.createCreative({
      creative: creative("good-url", { clickUrl: "https://adv.example/landing", impression: ["https://t.example/i"] }),
    });
    expect(ok.creative?.id).toBe("good-url");
  });
});
